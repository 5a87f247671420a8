"""The scenario templates in ``scenarios/templates/`` (Norway, Luxembourg).

Their action plans set goals without figures, so a template is a scenario whose every number
is a placeholder. What this module verifies:

* each template validates, compiles and runs (expected engine), and ``parity validate``
  accepts it;
* each says at the top that it is a template and lists the inputs a user must supply;
* every block that carries numbers is labelled with an assumption containing
  "(placeholder — replace with your figure)";
* the templates are not shipped scenarios: the golden-file machinery does not pick them up.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from simulator import compile_scenario, load_scenario, run
from simulator.cli import main as parity_main

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = ROOT / "scenarios" / "templates"
TEMPLATES = sorted(TEMPLATE_DIR.glob("*.toml"))
TEMPLATE_IDS = [p.stem for p in TEMPLATES]
PLACEHOLDER = "(placeholder — replace with your figure)"


def test_the_norway_and_luxembourg_templates_exist():
    assert set(TEMPLATE_IDS) == {"no_defence_template", "lu_template"}


@pytest.mark.parametrize("path", TEMPLATES, ids=TEMPLATE_IDS)
def test_template_validates_compiles_and_runs(path: Path):
    scenario = load_scenario(path)
    compiled = compile_scenario(scenario)
    result = run(compiled, engine="expected")
    assert result.raw.stock.shape == (1, compiled.n_years + 1, compiled.n_grades, 2)
    assert scenario.targets
    assert scenario.name.startswith("TEMPLATE")
    assert "TEMPLATE" in scenario.description


def test_parity_validate_accepts_the_templates(capsys):
    status = parity_main(["validate", *map(str, TEMPLATES)])
    assert status == 0
    assert capsys.readouterr().out.count("ok: ") == len(TEMPLATES)


@pytest.mark.parametrize("path", TEMPLATES, ids=TEMPLATE_IDS)
def test_template_says_so_at_the_top_and_lists_the_inputs(path: Path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# TEMPLATE")
    header = text.split("schema_version", 1)[0]
    assert "Inputs you must supply" in header
    assert "NO figures" in header


def _numbered_blocks(data: dict) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    for key in ("initial", "attrition", "promotions", "policies", "targets"):
        out += [(f"{key}[{i}]", block) for i, block in enumerate(data.get(key, []))]
    out += [(f"grades[{i}]", g) for i, g in enumerate(data["grades"]) if "establishment" in g]
    out.append(("recruitment", data["recruitment"]))
    return out


@pytest.mark.parametrize("path", TEMPLATES, ids=TEMPLATE_IDS)
def test_every_number_is_a_labelled_placeholder(path: Path):
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    blocks = _numbered_blocks(data)
    assert len(blocks) >= 5
    unlabelled = [p for p, block in blocks if PLACEHOLDER not in block.get("assumption", "")]
    assert unlabelled == []


def test_templates_are_not_shipped_scenarios():
    shipped = {p.stem for p in (ROOT / "scenarios").glob("*.toml")}
    golden = {p.stem for p in (ROOT / "tests" / "golden").glob("*.json")}
    assert not set(TEMPLATE_IDS) & (shipped | golden)
