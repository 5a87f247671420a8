"""Validation of scenario input: every problem at once, with paths; hard bounds; fuzzing.

Verified:

* a TOML file with several kinds of mistakes (a misspelt key, negative headcounts, a
  probability of 1.08, an unknown grade reference, a block without source or assumption, a
  vacancy step without an establishment) yields ALL of them in one :class:`ScenarioError`, each
  with its path in file notation (``grades[0].establishment``, ``attrition[1].women``) and a
  message naming what is allowed; unknown keys list the allowed fields at that place;
* a policy that makes ``attrition + promotion > 1`` is reported by ``compile_scenario`` naming
  the year and the policy;
* hard bounds (horizon > 100 years, > 30 grades, > 100,000 replications, headcount > 1e9) are
  rejected, and the bound itself is accepted;
* fuzzing: random TOML documents, mutations of valid scenarios (a key deleted, a value of the
  wrong type, junk inserted), random text and random bytes make ``loads_scenario`` raise
  nothing but :class:`ScenarioError`, whose issues all render as non-empty strings; a mutated
  scenario that does validate compiles (or raises ScenarioError) and runs.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from simulator import (
    ScenarioError,
    compile_scenario,
    load_scenario,
    loads_scenario,
    parse_scenario,
    run,
)
from simulator.scenario import (
    MAX_CELL_HEADCOUNT,
    MAX_GRADES,
    MAX_HORIZON_YEARS,
    MAX_REPLICATIONS,
    scenario_fingerprint,
    scenario_to_data,
)
from tests.factories import ladder
from tests.strategies import scenarios

BROKEN_TOML = """\
name = "Broken ladder"
start_year = 2024
end_year = 2034

[sources.hr]
title = "HR statistics 2024"

[[grades]]
id = "constable"
establishment = -5            # negative headcount of posts
assumption = "posts as budgeted"

[[grades]]
id = "sergeant"

[[grades]]
id = "inspector"              # no establishment, yet filled by vacancy below

[[initial]]
grade = "constable"
women = 300
men = 700
source = "hr"

[[initial]]
grade = "sergent"             # unknown grade (typo)
women = 80
men = 220
source = "hr"

[[initial]]
grade = "inspector"
women = 10
men = -4                      # negative headcount
source = "hr"

[[attrition]]
grade = "constable"
women = 0.08
men = 0.07
source = "hr"

[[attrition]]
grade = "sergeant"
women = 1.08                  # not a probability
men = 0.05
source = "hr"

[[attrition]]
grade = "inspector"
women = 0.05
men = 0.05
source = "hr"

[[promotions]]
to = "sergeant"
mode = "rate"
probability = { women = 0.1, men = 0.1 }
min_years_in_grde = 2         # misspelt key
source = "hr"

[[promotions]]
to = "inspector"
mode = "vacancy"              # needs an establishment on inspector
source = "hr"

[recruitment]                 # neither source nor assumption
mode = "fixed"
intake = 120
women_share = 0.3
"""

#: path → words the message must contain (what is allowed / what is wrong).
EXPECTED_ISSUES = {
    "grades[0].establishment": ["0"],
    "initial[2].men": ["0"],
    "attrition[1].women": ["0", "1"],
    "initial[1].grade": ["unknown grade", "constable", "sergeant", "inspector"],
    "promotions[0].min_years_in_grde": ["unknown field", "min_years_in_grade", "probability"],
    "recruitment": ["source", "assumption"],
    "promotions[1].mode": ["establishment", "inspector"],
}


#: A path in file notation: keys joined by dots, list indices in brackets.
TOML_PATH = re.compile(r"[A-Za-z_]\w*(\[\d+\])*(\.[A-Za-z_]\w*(\[\d+\])*)*")


def issues_of(exc: ScenarioError) -> dict[str, list[str]]:
    """Messages by path."""
    out: dict[str, list[str]] = {}
    for issue in exc.issues:
        out.setdefault(issue.path, []).append(issue.message)
    return out


# ---------------------------------------------------------------------------------------------
# Every problem at once
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def broken_file(tmp_path):
    """The broken scenario as a file on disk."""
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN_TOML, encoding="utf-8")
    return path


def test_broken_file_is_valid_toml():
    """Guard: the mistakes are schema mistakes, not TOML syntax errors."""
    import tomllib

    assert tomllib.loads(BROKEN_TOML)["name"] == "Broken ladder"


@pytest.mark.parametrize("path", sorted(EXPECTED_ISSUES))
def test_every_problem_in_a_file_is_reported_at_once(broken_file, path):
    """Each mistake in the file appears in the ONE error raised, at its path, with a message
    that names what is allowed."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(broken_file)
    found = issues_of(info.value)
    assert path in found, f"{path} not reported; reported: {sorted(found)}"
    text = " ".join(found[path])
    for word in EXPECTED_ISSUES[path]:
        assert word in text, f"{path}: {word!r} not in {text!r}"


def test_report_names_the_file_and_formats_each_issue(broken_file):
    """The report is headed by the file name and lists ``path: message (got value)`` lines."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(broken_file)
    exc = info.value
    report = exc.report()
    assert str(broken_file) in report.splitlines()[0]
    assert f"{len(exc.issues)} problems found" in report.splitlines()[0]
    assert "  - attrition[1].women: " in report
    assert "(got 1.08)" in report
    assert "(got 'sergent')" in report
    for issue in exc.issues:
        line = str(issue)
        assert line.startswith(f"{issue.path or '(file)'}: {issue.message}")
        assert line in report


def test_one_issue_per_mistake_for_multi_form_fields(broken_file):
    """A value that may be a number or a list (attrition) gets one clear issue, not one per
    accepted form, and no internal tags leak into paths."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(broken_file)
    found = issues_of(info.value)
    assert len(found["attrition[1].women"]) == 1
    for issue in info.value.issues:
        assert TOML_PATH.fullmatch(issue.path), issue.path


@pytest.mark.parametrize(
    ("where", "key", "allowed"),
    [
        ((), "horizon_yrs", ["end_year", "start_year", "grades"]),
        (("grades", 0), "establishmnet", ["establishment", "workforce", "id"]),
        (("promotions", 0, "probability"), "woman", ["men", "women"]),
        (("recruitment",), "intake_share", ["women_share", "intake", "mode"]),
        (("simulation",), "reps", ["replications", "seed"]),
    ],
)
def test_unknown_keys_list_the_allowed_fields(where, key, allowed):
    """An unknown key is reported at its path with the fields allowed at that place."""
    data = ladder(2)
    data.setdefault("simulation", {})
    node: Any = data
    for part in where:
        node = node[part]
    node[key] = 1
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in (*where, key)).lstrip(".")
    found = issues_of(info.value)
    assert path in found, sorted(found)
    assert "unknown field" in found[path][0]
    for name in allowed:
        assert name in found[path][0]


# ---------------------------------------------------------------------------------------------
# Constraints after policies
# ---------------------------------------------------------------------------------------------
def test_policy_breaking_attrition_plus_promotion_is_reported_with_year_and_policy():
    """``a + p ≤ 1`` is checked after policies; the issue names the year and the policy."""
    base = ladder(2, start_year=2020, end_year=2030, attrition=[(0.5, 0.5), (0.1, 0.1)])
    base["promotions"][0]["probability"] = {"women": 0.4, "men": 0.4}
    compile_scenario(parse_scenario(base))  # fine without the policy
    data = copy.deepcopy(base)
    data["policies"] = [
        {
            "id": "retention_crisis",
            "parameter": "attrition",
            "from_year": 2026,
            "scale": 1.5,
            "grades": ["g0"],
            "assumption": "test",
        }
    ]
    scenario = parse_scenario(data)  # the file itself is valid: the problem is in 2026
    with pytest.raises(ScenarioError) as info:
        compile_scenario(scenario)
    [issue] = [i for i in info.value.issues if "promotion" in i.message]
    assert issue.path.startswith("promotions[0].probability.")
    assert "2026" in issue.message
    assert "retention_crisis" in issue.message
    assert "≤ 1" in issue.message or "<= 1" in issue.message
    assert math.isclose(issue.value, 0.75 + 0.4)


def test_policy_pushing_a_share_above_one_is_reported_with_year():
    """A ramped scale on the intake's women's share that ends above 1 is named with its year."""
    data = ladder(
        2,
        start_year=2020,
        end_year=2030,
        policies=[
            {
                "id": "double_women",
                "parameter": "recruitment.women_share",
                "from_year": 2022,
                "to_year": 2028,
                "scale": 4.0,
            }
        ],
    )
    with pytest.raises(ScenarioError) as info:
        compile_scenario(parse_scenario(data))
    [issue] = info.value.issues
    assert issue.path == "recruitment.women_share"
    # 0.3 × (1 + 3w) > 1 ⇔ w > 7/9, with w = (y - 2021)/7 ⇔ y - 2021 > 5.44: first in 2027.
    assert "2027" in issue.message
    assert "double_women" in issue.message


# ---------------------------------------------------------------------------------------------
# Hard bounds
# ---------------------------------------------------------------------------------------------
def _with_grades(n: int) -> dict[str, Any]:
    return ladder(n, end_year=2002)


@pytest.mark.parametrize(
    ("make", "path"),
    [
        (lambda: ladder(2, start_year=2000, end_year=2000 + MAX_HORIZON_YEARS + 1), "end_year"),
        (lambda: _with_grades(MAX_GRADES + 1), "grades"),
        (
            lambda: {**ladder(2), "simulation": {"replications": MAX_REPLICATIONS + 1}},
            "simulation.replications",
        ),
        (
            lambda: ladder(2, initial=[(MAX_CELL_HEADCOUNT + 1, 0), (0, 0)]),
            "initial[0].women",
        ),
    ],
    ids=["horizon", "grades", "replications", "headcount"],
)
def test_hard_bounds_are_rejected(make, path):
    """Beyond a hard bound the file is rejected at the offending path."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(make())
    assert path in issues_of(info.value), [str(i) for i in info.value.issues]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ladder(1, start_year=2000, end_year=2000 + MAX_HORIZON_YEARS),
        lambda: _with_grades(MAX_GRADES),
        lambda: {**ladder(1), "simulation": {"replications": MAX_REPLICATIONS}},
        lambda: ladder(1, initial=[(MAX_CELL_HEADCOUNT, MAX_CELL_HEADCOUNT)]),
    ],
    ids=["horizon", "grades", "replications", "headcount"],
)
def test_hard_bounds_themselves_are_accepted(make):
    """The bound is inclusive: exactly at the limit the file validates."""
    parse_scenario(make())


def test_run_rejects_replications_beyond_the_bound():
    """The API checks the replication bound too (the CLI and app can override the file)."""
    scenario = parse_scenario(ladder(1, end_year=2001))
    with pytest.raises(ScenarioError) as info:
        run(scenario, "stochastic", replications=MAX_REPLICATIONS + 1, seed=1)
    assert "replications" in issues_of(info.value)


# ---------------------------------------------------------------------------------------------
# Fuzzing
# ---------------------------------------------------------------------------------------------
SCHEMA_WORDS = [
    "name", "start_year", "end_year", "grades", "id", "workforce", "establishment", "initial",
    "grade", "women", "men", "total", "women_share", "years_in_grade", "attrition", "promotions",
    "to", "mode", "rate", "vacancy", "probability", "min_years_in_grade", "women_odds",
    "women_floor", "lateral_share", "recruitment", "intake", "growth_rate", "policies",
    "parameter", "from_year", "to_year", "set", "scale", "targets", "population", "comparator",
    "value", "deadline", "groups", "sources", "source", "assumption", "simulation",
    "replications", "seed", "schema_version",
]  # fmt: skip

KEYS = st.one_of(st.sampled_from(SCHEMA_WORDS), st.text(max_size=12))
SCALARS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-5, 3000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=20),
    st.sampled_from(SCHEMA_WORDS),
    st.dates(),
    st.datetimes(),
)
TOML_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=30,
)
TOML_DOCS = st.dictionaries(KEYS, TOML_VALUES, max_size=8)


def assert_clean_error(exc: ScenarioError) -> None:
    """A ScenarioError carries at least one issue and each renders as a non-empty line."""
    assert exc.issues
    for issue in exc.issues:
        text = str(issue)
        assert text.strip()
        assert isinstance(issue.path, str)
        assert issue.message.strip()
    assert exc.report().strip()


def load_or_error(text: str | bytes, fmt: str = "toml"):
    """loads_scenario; a ScenarioError is checked and returned as None. Anything else raises."""
    try:
        return loads_scenario(text, fmt)
    except ScenarioError as exc:
        assert_clean_error(exc)
        return None


def compile_and_run_or_error(scenario) -> None:
    """A scenario that validated either compiles and runs, or fails with a ScenarioError."""
    try:
        compiled = compile_scenario(scenario)
    except ScenarioError as exc:
        assert_clean_error(exc)
        return
    run(compiled, "expected")


@given(TOML_DOCS)
def test_fuzz_random_toml_documents_raise_only_scenario_errors(doc):
    """Arbitrary TOML documents: loads_scenario either validates or raises ScenarioError."""
    text = tomli_w.dumps(doc)
    scenario = load_or_error(text)
    if scenario is not None:  # pragma: no cover - vanishingly unlikely
        compile_and_run_or_error(scenario)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys / indices) to a value inside nested dicts and lists."""
    out = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, child in items:
        out.append((*prefix, key))
        out += _paths(child, (*prefix, key))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def mutated_scenarios(draw) -> dict[str, Any]:
    """A valid scenario with 1-3 mutations: delete a key, change a value's type, insert junk."""
    doc = copy.deepcopy(draw(scenarios(max_grades=3, max_horizon=5)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        action = draw(st.sampled_from(["delete", "retype", "junk_key", "junk_item"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "retype":
            parent[path[-1]] = draw(TOML_VALUES)
        elif action == "junk_key" and isinstance(parent, dict):
            parent[draw(KEYS)] = draw(TOML_VALUES)
        elif isinstance(parent, list):
            parent.insert(draw(st.integers(0, len(parent))), draw(TOML_VALUES))
        note(f"{action} at {path}")
    return doc


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(mutated_scenarios())
def test_fuzz_mutated_scenarios_raise_only_scenario_errors(doc):
    """Mutations of valid scenarios: only ScenarioError; a survivor compiles and runs."""
    scenario = load_or_error(tomli_w.dumps(doc))
    if scenario is not None:
        compile_and_run_or_error(scenario)


@given(mutated_scenarios())
def test_fuzz_mutated_scenarios_as_json_raise_only_scenario_errors(doc):
    """The same through the JSON reader (dates become strings, as a JSON file would have)."""
    scenario = load_or_error(json.dumps(doc, default=str), "json")
    if scenario is not None:
        compile_and_run_or_error(scenario)


@given(st.binary(max_size=400))
def test_fuzz_random_bytes_raise_only_scenario_errors(blob):
    """Random bytes (mostly not UTF-8, not TOML)."""
    assert load_or_error(blob) is None


@given(st.text(max_size=400), st.sampled_from(["toml", "json"]))
def test_fuzz_random_text_raises_only_scenario_errors(text, fmt):
    """Random text in either format."""
    assert load_or_error(text, fmt) is None


@given(st.integers(1, 3000), st.sampled_from(["[", "{", "a = ["]))
def test_fuzz_unterminated_deep_nesting_raises_only_scenario_errors(depth, opener):
    """Deep, unterminated nesting is a syntax error, not a crash."""
    text = "x = " + opener * depth if opener != "a = [" else opener * depth
    assert load_or_error(text) is None
    assert load_or_error("[" * depth, "json") is None


NESTED_DOCUMENTS = {
    "toml-array": lambda n: "x = " + "[" * n + "]" * n,
    "toml-inline-table": lambda n: "x = " + "{a = " * n + "1" + "}" * n,
    "json-array": lambda n: '{"x": ' + "[" * n + "]" * n + "}",
    "json-object": lambda n: '{"x": ' + '{"a": ' * n + "1" + "}" * n + "}",
}


@pytest.mark.parametrize("kind", sorted(NESTED_DOCUMENTS))
def test_deeply_nested_valid_syntax_is_an_input_error(kind):
    """Well-formed but deeply nested values under an unknown key: reported, never a crash.

    Depths just below Python's recursion limit are the dangerous ones: the parser accepts the
    document, and then validating it or rendering the offending value in an issue must not
    recurse too deep. Where exactly that window lies depends on the stack depth of the caller,
    so every depth from 1 to 1,500 in steps of 3 is tried (cheap: the documents are tiny).
    """
    fmt = kind.split("-")[0]
    for depth in [*range(1, 1500, 3), 3000]:
        text = NESTED_DOCUMENTS[kind](depth)
        try:
            assert load_or_error(text, fmt) is None
        except RecursionError as exc:  # pragma: no cover - report the depth that broke
            raise AssertionError(f"RecursionError at nesting depth {depth}") from exc


def test_oversized_input_is_rejected():
    """Input beyond the file-size bound is rejected without parsing."""
    big = "# " + "x" * 1_100_000
    assert load_or_error(big) is None
    assert load_or_error(big.encode()) is None


def test_a_date_where_a_year_belongs_is_an_input_error():
    """TOML dates are a distinct type: ``start_year = 2024-01-01`` is reported, not crashed on."""
    data = ladder(2)
    data["start_year"] = dt.date(2024, 1, 1)
    with pytest.raises(ScenarioError) as info:
        loads_scenario(tomli_w.dumps(data))
    assert "start_year" in issues_of(info.value)


# ---------------------------------------------------------------------------------------------
# Published figures ([[observed]]).
# ---------------------------------------------------------------------------------------------
def _observed_data(*rows: dict[str, Any]) -> dict[str, Any]:
    data = ladder(2, start_year=2000, end_year=2010)
    data["sources"] = {"pub": {"title": "Report"}}
    data["observed"] = list(rows)
    return data


def test_observed_figures_are_cross_checked_with_field_names():
    good = {"population": "g1", "year": 2004, "women_share": 0.2, "source": "pub", "locator": "t1"}
    bad = [
        good,
        {**good, "population": "gx", "source": "nope", "year": 1999},
        {**good, "women_share": 0.3},  # the same population and year again
        {**good, "population": "intake", "year": 2005},
    ]
    with pytest.raises(ScenarioError) as info:
        parse_scenario(_observed_data(*bad))
    got = {(i.path, i.value) for i in info.value.issues}
    assert got == {
        ("observed[1].source", "nope"),
        ("observed[1].population", "gx"),
        ("observed[1].year", 1999),
        ("observed[2].year", 2004),
        ("observed[3].population", "intake"),
    }
    with pytest.raises(ScenarioError) as info:
        parse_scenario(_observed_data({k: v for k, v in good.items() if k != "source"}))
    assert [i.path for i in info.value.issues] == ["observed[0].source"]
    with pytest.raises(ScenarioError) as info:
        parse_scenario(_observed_data({**good, "women_share": 1.2}))
    assert [i.path for i in info.value.issues] == ["observed[0].women_share"]


def test_observed_figures_round_trip_and_leave_other_fingerprints_unchanged():
    good = {"population": "g1", "year": 2004, "women_share": 0.2, "source": "pub", "locator": "t1"}
    with_figure = parse_scenario(_observed_data(good))
    again = loads_scenario(tomli_w.dumps(scenario_to_data(with_figure)))
    assert again.observed == with_figure.observed
    assert scenario_fingerprint(again) == scenario_fingerprint(with_figure)
    # A scenario without figures: no "observed" key, so its fingerprint is what it was before
    # the field existed.
    without = parse_scenario(_observed_data())
    assert "observed" not in scenario_to_data(without)
    assert scenario_fingerprint(without) != scenario_fingerprint(with_figure)


def test_with_one_pool_deployed_and_the_pool_cannot_both_carry_a_figure_for_a_year():
    data = _observed_data()
    data["deployments"] = [{"id": "intl", "demand": 20, "grades": ["g1"], "assumption": "test"}]
    fig = {"year": 2004, "women_share": 0.2, "source": "pub", "locator": "t1"}
    data["observed"] = [{**fig, "population": "deployed"}, {**fig, "population": "deployed.intl"}]
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    (issue,) = info.value.issues
    assert issue.path == "observed[1].year"
    assert "one population" in issue.message
    # With two pools they are different populations.
    data["deployments"].append({"id": "home", "demand": 5, "grades": ["g0"], "assumption": "t"})
    assert len(parse_scenario(data).observed) == 2


def test_a_funnel_stage_has_no_published_figure_in_the_start_year():
    """The funnel's stages are flows of the projection years: a figure for one of them in the
    start year has no model value to stand beside, and is refused by field."""
    from tests.test_pipeline import funnel_scenario

    data = funnel_scenario()
    data["sources"] = {"pub": {"title": "Report"}}
    fig = {"population": "conscripts", "women_share": 0.2, "source": "pub", "locator": "t"}
    data["observed"] = [{**fig, "year": data["start_year"]}]
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    (issue,) = info.value.issues
    assert (issue.path, issue.value) == ("observed[0].year", data["start_year"])
    assert "projection years" in issue.message
    data["observed"] = [{**fig, "year": data["start_year"] + 1}]
    assert parse_scenario(data).observed[0].year == data["start_year"] + 1
