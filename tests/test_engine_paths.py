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


# ---------------------------------------------------------------------------------------------
# The stochastic engine's Wallenius sampler calls SciPy's urn directly (five times faster than
# the public rvs); it must give the very same variates, in the same order, from the same stream.
# ---------------------------------------------------------------------------------------------
def _wallenius_cases(seed: int, repeated: bool):
    rng = np.random.default_rng(seed)
    size = 400
    if repeated:  # the same parameters in runs: the urn's table for repeated parameters is used
        runs = 8
        pool_w = np.repeat(rng.integers(1, 400, runs), size // runs)
        pool_m = np.repeat(rng.integers(1, 2000, runs), size // runs)
        n_draw = np.repeat(rng.integers(1, 120, runs), size // runs)
        odds = np.repeat(rng.uniform(0.2, 5.0, runs), size // runs)
    else:
        pool_w = rng.integers(0, 400, size)
        pool_m = rng.integers(0, 2000, size)
        n_draw = rng.integers(0, 120, size)
        odds = rng.uniform(0.2, 5.0, size)
    n_draw = np.minimum(n_draw, pool_w + pool_m)
    keep = np.minimum(n_draw, pool_w) > np.maximum(0, n_draw - pool_m)  # as select() passes
    return pool_w[keep], pool_m[keep], n_draw[keep], odds[keep]


@pytest.mark.parametrize("repeated", [False, True])
@pytest.mark.parametrize("per_element_odds", [False, True])
def test_wallenius_rvs_equals_scipy_public_rvs(repeated, per_element_odds):
    from scipy import stats

    from simulator.engine import wallenius_rvs

    pool_w, pool_m, n_draw, odds_each = _wallenius_cases(11, repeated)
    odds = odds_each if per_element_odds else 2.5
    ours = wallenius_rvs(pool_w, pool_m, n_draw, odds, np.random.default_rng(7))
    ref_gen = np.random.default_rng(7)
    ref = stats.nchypergeom_wallenius.rvs(
        pool_w + pool_m, pool_w, n_draw, odds, random_state=ref_gen
    )
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours, ref)
    # and the stream is left in the same state
    after = np.random.default_rng(7)
    wallenius_rvs(pool_w, pool_m, n_draw, odds, after)
    assert after.random() == ref_gen.random()


def test_wallenius_rvs_falls_back_to_the_public_rvs(monkeypatch):
    import simulator.engine as engine

    pool_w, pool_m, n_draw, _ = _wallenius_cases(3, False)
    fast = engine.wallenius_rvs(pool_w, pool_m, n_draw, 0.5, np.random.default_rng(1))
    monkeypatch.setattr(engine, "_new_urn", lambda: None)
    slow = engine.wallenius_rvs(pool_w, pool_m, n_draw, 0.5, np.random.default_rng(1))
    np.testing.assert_array_equal(fast, slow)
    one = engine.wallenius_rvs(pool_w[:1], pool_m[:1], n_draw[:1], 0.5, np.random.default_rng(1))
    assert one.shape == (1,)  # an array for one element too, as on the fast path
    assert one.dtype == np.int64
    assert one[0] == fast[0]


def test_a_policy_that_drives_the_odds_to_zero_is_an_error_naming_the_step():
    """The baseline odds must be above 0, a policy may set 0: compile refuses it (the urn
    sampler cannot draw with a zero weight)."""
    from simulator.errors import ScenarioError
    from simulator.scenario import scenario_to_data

    raw = scenario_to_data(load_scenario(ROOT / "scenarios" / "dk_police.toml"))
    raw["policies"] = [
        {
            "id": "no-women",
            "parameter": "promotion.women_odds",
            "from_year": 2027,
            "scale": 0.0,
            "assumption": "test",
        }
    ]
    with pytest.raises(ScenarioError) as exc:
        compile_scenario(parse_scenario(raw))
    (issue,) = exc.value.issues
    assert issue.path == "promotions[0].women_odds"
    assert "above 0" in issue.message
    assert "no-women" in issue.message
    assert "2027" in issue.message
    assert issue.value == 0.0


def test_compiled_series_of_a_hand_built_empty_ramp_is_at():
    from simulator.compiled import _series
    from simulator.scenario import Series

    ramp = Series("ramp", from_year=2020, to_year=2020, start=0.1, end=0.3)
    years = np.arange(2018, 2023)
    with np.errstate(all="raise"):
        got = _series(ramp, years)
    assert got.tolist() == [ramp.at(int(y)) for y in years]


# ---------------------------------------------------------------------------------------------
# Result.quantiles_frame computes every statistic of a population at once; the reference is the
# column-by-column np.nanquantile / np.nanmean it replaced (kept here as the oracle).
# ---------------------------------------------------------------------------------------------
def _reference_quantiles_frame(result, quantiles=(0.05, 0.25, 0.5, 0.75, 0.95)):
    import pandas as pd

    def by_column(a, fn):
        out = np.full(a.shape[1], np.nan)
        ok = ~np.all(np.isnan(a), axis=0)
        if ok.any():
            out[ok] = fn(a[:, ok])
        return out

    rows = []
    for pop in result.population_names:
        w, m = result.counts(pop)
        share = result.share(pop)
        for name, fn in (
            *[(f"q{q:g}", lambda a, q=q: np.nanquantile(a, q, axis=0)) for q in quantiles],
            ("mean", lambda a: np.nanmean(a, axis=0)),
        ):
            rows.append(
                pd.DataFrame(
                    {
                        "population": pop,
                        "year": result.years,
                        "statistic": name,
                        "share": by_column(share, fn),
                        "women": by_column(w, fn),
                        "total": by_column(w + m, fn),
                    }
                )
            )
    frame = pd.concat(rows, ignore_index=True)
    frame.insert(0, "engine", result.engine)
    return frame


@pytest.mark.parametrize(
    "name", ["dk_police", "dk_defence_reform", "dk_police_deployment", "cph_leaders"]
)
def test_quantiles_frame_equals_column_by_column_reference(name):
    import pandas as pd

    from simulator import run

    result = run(load_scenario(ROOT / "scenarios" / f"{name}.toml"), "stochastic", 60, 5)
    ours = result.quantiles_frame()
    ref = _reference_quantiles_frame(result)
    # NaN columns (intake's start year; empty pools) are part of what is compared
    assert ours["share"].isna().any()
    pd.testing.assert_frame_equal(ours, ref, check_exact=True)


def test_statistics_handles_partly_empty_years():
    from simulator.results import _statistics

    a = np.array([[0.1, np.nan, np.nan, 3.0], [0.4, 0.2, np.nan, 1.0], [0.3, 0.9, np.nan, 2.0]])
    got = _statistics(a, (0.25, 0.5))
    for j in (0, 1, 3):
        np.testing.assert_array_equal(got[:2, j], np.nanquantile(a[:, j], [0.25, 0.5]))
        assert got[2, j] == np.nanmean(a[:, j])
    assert np.isnan(got[:, 2]).all()


# ---------------------------------------------------------------------------------------------
# compiled._series: Series.at for every projection year, vectorised.
# ---------------------------------------------------------------------------------------------
_years = st.integers(1990, 2060)
_value = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def _any_series(draw):
    from simulator.scenario import Series

    kind = draw(st.sampled_from(["constant", "steps", "unsorted", "ramp"]))
    if kind == "constant":
        return Series("constant", constant=draw(_value))
    if kind == "ramp":
        fy = draw(_years)
        ty = draw(st.integers(fy + 1, fy + 40))
        return Series("ramp", from_year=fy, to_year=ty, start=draw(_value), end=draw(_value))
    steps = draw(st.lists(st.tuples(_years, _value), min_size=1, max_size=12))
    if kind == "steps":  # as the parser builds it: sorted, one value per year
        steps = sorted(dict(steps).items())
    return Series("steps", steps=tuple(steps))


@settings(max_examples=300, deadline=None)
@given(series=_any_series(), first=_years, n=st.integers(1, 50))
def test_compiled_series_equals_at_for_every_year(series, first, n):
    from simulator.compiled import _series

    years = np.arange(first, first + n)
    got = _series(series, years)
    want = np.array([series.at(int(y)) for y in years], dtype=float)
    assert got.dtype == np.float64
    assert np.array_equal(got, want), (series, got, want)
