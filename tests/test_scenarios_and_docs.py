"""The shipped scenarios, the scenario-format documentation and the golden summaries.

What this module verifies:

* every shipped scenario (``scenarios/*.toml``) validates, compiles, runs, and passes
  ``parity validate``;
* the shipped scenarios hold the published figures they cite (initial women's shares within
  integer rounding, the published target) and start near balance (no first-year jump from a
  badly balanced initial state);
* provenance is enforced on the shipped files: removing the source and assumption from any
  block that carries numbers makes the file invalid, and so does citing an unknown source;
* ``docs/scenario-format.md``: every complete ```toml block is a valid scenario that
  compiles and runs; every ```toml fragment block is valid TOML; every field of every pydantic
  model in :mod:`simulator.scenario` (and every allowed literal value) is documented in that
  model's section; every hard bound is listed with its value;
* golden summaries: a stochastic run with a fixed seed and modest replications, plus the
  expected engine, gives exactly (to 12 significant digits) the target summaries stored in
  ``tests/golden/<scenario>.json``. Those files are written only by
  ``scripts/update_golden.py``, never by this test.

No test here is statistical: the golden comparison is a regression test of fixed-seed output.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import json
import re
import tomllib
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

import simulator.scenario as schema
from simulator import ScenarioError, compile_scenario, load_scenario, parse_scenario, run
from simulator.cli import main as parity_main

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
DOC = ROOT / "docs" / "scenario-format.md"
SCENARIO_IDS = [p.stem for p in SCENARIOS]


def _load_update_golden() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "update_golden", ROOT / "scripts" / "update_golden.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


update_golden = _load_update_golden()


def _raw(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# (a) Shipped scenarios validate, compile and run.
# ---------------------------------------------------------------------------------------------
def test_the_two_starter_scenarios_are_shipped():
    assert {"dk_police", "dk_defence"} <= set(SCENARIO_IDS)


@pytest.mark.parametrize("path", SCENARIOS, ids=SCENARIO_IDS)
def test_shipped_scenario_validates_compiles_and_runs(path: Path):
    scenario = load_scenario(path)
    compiled = compile_scenario(scenario)
    result = run(compiled, engine="expected")
    assert result.raw.stock.shape == (1, compiled.n_years + 1, compiled.n_grades, 2)
    assert scenario.targets, "a shipped scenario states at least one target"
    assert scenario.simulation.replications == 1000


def test_parity_validate_accepts_every_shipped_scenario(capsys):
    status = parity_main(["validate", *map(str, SCENARIOS)])
    out = capsys.readouterr().out
    assert status == 0
    assert out.count("ok: ") == len(SCENARIOS)


# ---------------------------------------------------------------------------------------------
# The shipped scenarios hold the published figures they cite.
# ---------------------------------------------------------------------------------------------
def _initial_share(path: Path, population: str) -> tuple[float, int]:
    """Women's share and headcount of a population in the compiled initial state."""
    compiled = compile_scenario(load_scenario(path))
    mask = compiled.populations[population]
    women = int(compiled.initial[mask, 0].sum())
    total = int(compiled.initial[mask].sum())
    return women / total, total


def _assert_share_matches(path: Path, population: str, published: float, blocks: int) -> None:
    """A published share is reproduced up to the rounding of ``blocks`` integer headcounts."""
    share, total = _initial_share(path, population)
    assert abs(share - published) <= 0.5 * blocks / total, (population, share, published)


def test_police_initial_state_reproduces_the_action_plan_shares():
    path = ROOT / "scenarios" / "dk_police.toml"
    # DK-NAP l.1255: 9 % of police leaders; l.1246: 21.1 % of sworn officers (leaders included);
    # l.1248: 34 % of police students (all 2024).
    _assert_share_matches(path, "police_leaders", 0.09, blocks=1)
    _assert_share_matches(path, "sworn_officers", 0.211, blocks=2)
    _assert_share_matches(path, "police_students", 0.34, blocks=1)


def test_police_target_is_the_published_national_target():
    scenario = load_scenario(ROOT / "scenarios" / "dk_police.toml")
    target = next(t for t in scenario.targets if t.id == "police-leaders-2030")
    assert scenario.targets[0] is target  # the headline target comes first (app, reports)
    assert (target.population, target.comparator, target.value, target.deadline) == (
        "police_leaders",
        "at_least",
        0.20,
        2030,
    )
    assert target.source == "dk-nap"
    assert "1258" in (target.locator or "")


def test_police_deployment_reproduces_the_published_share():
    """The deployment pool's odds are calibrated to 12 % women among the deployed in 2024."""
    scenario = load_scenario(ROOT / "scenarios" / "dk_police_deployment.toml")
    share = run(compile_scenario(scenario), engine="expected").share("deployed.abroad")[0, 0]
    assert share == pytest.approx(0.12, abs=0.0025)


def test_defence_initial_state_reproduces_the_action_plan_shares():
    path = ROOT / "scenarios" / "dk_defence.toml"
    # DK-NAP l.1128: 9.6 % of military staff (2023); l.1136: 2.5 % of military chiefs.
    _assert_share_matches(path, "military", 0.096, blocks=4)
    _assert_share_matches(path, "chiefs", 0.025, blocks=1)
    # l.1136: the share is "generally highest among privates".
    privates, _ = _initial_share(path, "privates")
    others = [_initial_share(path, g)[0] for g in ("ncos", "officers", "chiefs")]
    assert privates > max(others)


# Largest annual net change of the Danish police officer corps between published headcounts
# (2015-2019: +1.3 % a year, public-inputs.md line 58). A shipped scenario must not change a
# grade's headcount faster than that in its first projected year: a larger change would come
# from an initial state out of balance with the assumed rates, not from the organisation.
MAX_FIRST_YEAR_HEADCOUNT_CHANGE = 0.013


@pytest.mark.parametrize("path", SCENARIOS, ids=SCENARIO_IDS)
def test_shipped_scenario_starts_near_balance(path: Path):
    result = run(load_scenario(path), engine="expected")
    stock = result.raw.stock[0].sum(-1)  # [year, grade]
    for g, gid in enumerate(result.compiled.grade_ids):
        change = stock[1, g] / stock[0, g] - 1
        assert abs(change) <= MAX_FIRST_YEAR_HEADCOUNT_CHANGE, (gid, change)


# ---------------------------------------------------------------------------------------------
# (e) Provenance is enforced on the shipped scenarios.
# ---------------------------------------------------------------------------------------------
PROVENANCE = ("source", "locator", "assumption")


def _numbered_blocks(data: dict) -> list[tuple[str, list | dict, int | None]]:
    """Every block of a scenario dict that must carry provenance: (path, container, index)."""
    out: list[tuple[str, list | dict, int | None]] = []
    for key in ("initial", "attrition", "promotions", "policies", "targets", "deployments"):
        out += [(f"{key}[{i}]", data[key], i) for i in range(len(data.get(key, [])))]
    out += [
        (f"grades[{i}]", data["grades"], i)
        for i, g in enumerate(data["grades"])
        if "establishment" in g
    ]
    out.append(("recruitment", data, None))
    return out


def _provenance_cases() -> list:
    cases = []
    for path in SCENARIOS:
        for block_path, _, _ in _numbered_blocks(_raw(path)):
            cases.append(pytest.param(path, block_path, id=f"{path.stem}:{block_path}"))
    return cases


def _block(data: dict, block_path: str) -> dict:
    if block_path == "recruitment":
        return data["recruitment"]
    key, index = re.fullmatch(r"(\w+)\[(\d+)\]", block_path).groups()
    return data[key][int(index)]


@pytest.mark.parametrize(("path", "block_path"), _provenance_cases())
def test_shipped_block_without_provenance_is_rejected(path: Path, block_path: str):
    data = _raw(path)
    block = _block(data, block_path)
    assert block.get("source") or block.get("assumption", "").strip()
    parse_scenario(copy.deepcopy(data))  # valid as shipped
    for key in PROVENANCE:
        block.pop(key, None)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert [i.path for i in err.value.issues] == [block_path]
    assert "source" in err.value.issues[0].message
    assert "assumption" in err.value.issues[0].message


@pytest.mark.parametrize("path", SCENARIOS, ids=SCENARIO_IDS)
def test_shipped_block_citing_an_unknown_source_is_rejected(path: Path):
    data = _raw(path)
    cited = [
        (p, _block(data, p)) for p, _, _ in _numbered_blocks(data) if "source" in _block(data, p)
    ]
    assert cited, "a shipped scenario cites at least one source"
    block_path, block = cited[0]
    block["source"] = "no-such-source"
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert f"{block_path}.source" in [i.path for i in err.value.issues]


@pytest.mark.parametrize("path", SCENARIOS, ids=SCENARIO_IDS)
def test_every_source_of_a_shipped_scenario_is_cited(path: Path):
    data = _raw(path)
    cited = {_block(data, p).get("source") for p, _, _ in _numbered_blocks(data)}
    assert set(data["sources"]) <= cited


# ---------------------------------------------------------------------------------------------
# (b), (c) The documentation.
# ---------------------------------------------------------------------------------------------
DOC_TEXT = DOC.read_text(encoding="utf-8")
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
COMPLETE_BLOCKS = [body for info, body in FENCE.findall(DOC_TEXT) if info.strip() == "toml"]
FRAGMENT_BLOCKS = [
    body
    for info, body in FENCE.findall(DOC_TEXT)
    if info.strip().startswith("toml") and info.strip() != "toml"
]


def test_doc_has_a_complete_example():
    assert COMPLETE_BLOCKS


@pytest.mark.parametrize("index", range(len(COMPLETE_BLOCKS)))
def test_doc_complete_toml_block_is_a_valid_scenario(index: int):
    scenario = schema.loads_scenario(COMPLETE_BLOCKS[index], source=f"{DOC.name} block {index}")
    compiled = compile_scenario(scenario)
    result = run(compiled, engine="stochastic", replications=20, seed=1)
    assert result.raw.stock.shape[0] == 20


@pytest.mark.parametrize("index", range(len(FRAGMENT_BLOCKS)))
def test_doc_toml_fragment_is_valid_toml(index: int):
    tomllib.loads(FRAGMENT_BLOCKS[index])


def _schema_models() -> list[type[BaseModel]]:
    return [
        obj
        for obj in vars(schema).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseModel)
        and obj.__module__ == schema.__name__
        and obj.model_fields
    ]


def _section(name: str) -> str:
    """The doc section whose heading names ``name`` in backticks, up to the next peer heading."""
    lines = DOC_TEXT.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(#+)\s", line)
        if m and f"`{name}`" in line:
            level = len(m.group(1))
            end = next(
                (
                    j
                    for j in range(i + 1, len(lines))
                    if (h := re.match(r"^(#+)\s", lines[j])) and len(h.group(1)) <= level
                ),
                len(lines),
            )
            return "\n".join(lines[i:end])
    raise AssertionError(f"docs/scenario-format.md has no heading naming `{name}`")


def _literal_values(annotation: object) -> list[object]:
    """Every value of every ``Literal`` inside an annotation (through Optional, list, ...)."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    out: list[object] = []
    for arg in typing.get_args(annotation):
        out += _literal_values(arg)
    return out


MODELS = _schema_models()


def test_every_schema_model_is_walked():
    names = {m.__name__ for m in MODELS}
    assert {
        "Sourced",
        "Source",
        "Grade",
        "Initial",
        "Attrition",
        "BySex",
        "Promotion",
        "Recruitment",
        "Policy",
        "Target",
        "Simulation",
        "Scenario",
    } <= names


def _table_row_names(section: str) -> set[str]:
    """Names in backticks in the first cell of the section's table rows (``| `a`, `b` | ...``)."""
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("|") and line.count("|") >= 3:
            names |= set(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return names


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_doc_documents_every_field_of_the_model(model: type[BaseModel]):
    """Each field has a table row (its name in backticks in the first cell) in its section."""
    rows = _table_row_names(_section(model.__name__))
    missing = [f for f in model.model_fields if f not in rows]
    assert not missing, f"{model.__name__}: fields without a row in its doc section: {missing}"


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_doc_documents_every_allowed_literal_value(model: type[BaseModel]):
    section = _section(model.__name__)
    missing = [
        (field, value)
        for field, info in model.model_fields.items()
        for value in _literal_values(info.annotation)
        if f"`{value}`" not in section and f'`"{value}"`' not in section
    ]
    assert not missing, f"{model.__name__}: allowed values not documented: {missing}"


def test_doc_lists_every_policy_parameter():
    section = _section("Policy")
    values = typing.get_args(schema.PolicyParameter)
    assert values
    missing = [v for v in values if v not in _table_row_names(section)]
    assert not missing, f"policy parameters without a row in the Policy section: {missing}"


def test_doc_lists_every_hard_bound_with_its_value():
    section = DOC_TEXT.split("## Hard bounds", 1)[1].split("\n## ", 1)[0]
    bounds = {name: value for name, value in vars(schema).items() if name.startswith("MAX_")}
    bounds |= {"MIN_YEAR": schema.MIN_YEAR}
    assert len(bounds) >= 8
    for name, value in bounds.items():
        row = next((line for line in section.splitlines() if f"`{name}`" in line), None)
        assert row is not None, f"hard bound {name} is not listed"
        assert f"{value:,}" in row or str(value) in row, (name, value, row)


# ---------------------------------------------------------------------------------------------
# (d) Golden summaries.
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SCENARIOS, ids=SCENARIO_IDS)
def test_golden_summary_is_unchanged(path: Path):
    golden_file = update_golden.golden_path(path)
    assert golden_file.exists(), (
        f"{golden_file.relative_to(ROOT)} is missing: run scripts/update_golden.py"
    )
    stored = json.loads(golden_file.read_text(encoding="utf-8"))
    fresh = update_golden.golden_summary(path)
    assert fresh["replications"] == update_golden.GOLDEN_REPLICATIONS
    assert update_golden.comparable(fresh) == update_golden.comparable(stored), (
        f"the summary of {path.name} differs from {golden_file.relative_to(ROOT)}; if the change "
        "is intended, run scripts/update_golden.py and review the diff"
    )


def test_golden_files_belong_to_shipped_scenarios():
    golden = {p.stem for p in update_golden.GOLDEN_DIR.glob("*.json")}
    assert golden == set(SCENARIO_IDS)


def test_golden_normalisation_rounds_to_twelve_digits_and_drops_residue():
    assert update_golden.normalise(0.1 + 0.2) == 0.3
    assert update_golden.normalise(2.168404344971009e-19) == 0.0
    assert update_golden.normalise(0.123456789012345) == 0.123456789012
    assert update_golden.normalise({"a": [True, 3, None, "x"]}) == {"a": [True, 3, None, "x"]}
