"""The published-figures data (``calibration/data/*.csv``) and its loader, ``calibration.data``.

What this module verifies:

* the shipped files load, every id is unique across them, every column is there;
* every high-relevance row of the seed-figure extraction (``seed-figures.csv``, 43 rows, all in
  the Danish action plan) is represented, matched by seed file, line and value (percent stored
  as a share; a date stored as its year);
* every figure cited by a shipped scenario's new data links is present, and the figures the
  Danish scenarios rest on hold the values the scenarios use;
* the loader rejects malformed files, each problem with a message naming file, row and field:
  a bad number, a share above 1, an unknown or missing column, a duplicate id (within a file
  and across files), an empty required field, a bad date, a bad relevance; all problems are
  reported at once;
* :func:`calibration.data.figure` and :func:`calibration.data.figures_for_scenario`;
* a property test: any finite share in [0, 1] round-trips; any text that is not a number is
  rejected at ``row N.value``.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calibration.data import (
    COLUMNS,
    DATA_DIR,
    figure,
    figures_for_scenario,
    load_figures,
)
from simulator import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SHARED_SEED_FIGURES = Path("/work/shared/data/seed-figures.csv")
SHARED_PUBLIC_INPUTS = Path("/work/shared/data/public-inputs.md")
#: Table rows of public-inputs.md without a figure (qualitative text only).
QUALITATIVE_PUBLIC_INPUT_LINES = {69}
DK_NAP = "000_dea58c0e4154c6d0.txt"

#: The 43 high-relevance rows of seed-figures.csv: (seed file, line, value as extracted, unit).
HIGH_RELEVANCE_SEED_ROWS = [
    (DK_NAP, 671, "17.5", "percent"),
    (DK_NAP, 1090, "50", "employees"),
    (DK_NAP, 1128, "9.6", "percent"),
    (DK_NAP, 1129, "3400", "persons"),
    (DK_NAP, 1130, "9.3", "percent"),
    (DK_NAP, 1132, "7.2", "percent"),
    (DK_NAP, 1132, "9.6", "percent"),
    (DK_NAP, 1134, "13.2", "percent"),
    (DK_NAP, 1134, "12.1", "percent"),
    (DK_NAP, 1136, "2.5", "percent"),
    (DK_NAP, 1138, "29.2", "percent"),
    (DK_NAP, 1139, "16.4", "percent"),
    (DK_NAP, 1141, "12.7", "percent"),
    (DK_NAP, 1142, "36", "percent"),
    (DK_NAP, 1143, "2.6", "percent"),
    (DK_NAP, 1143, "20", "percent"),
    (DK_NAP, 1152, "18", "years of age"),
    (DK_NAP, 1153, "1998", "year"),
    (DK_NAP, 1155, "1200", "persons"),
    (DK_NAP, 1156, "25", "percent"),
    (DK_NAP, 1157, "525", "persons"),
    (DK_NAP, 1157, "28", "percent"),
    (DK_NAP, 1162, "2024", "year"),
    (DK_NAP, 1164, "2025-07-01", "date"),
    (DK_NAP, 1178, "2024", "year"),
    (DK_NAP, 1185, "mid-2025", "date"),
    (DK_NAP, 1197, "40", "percent"),
    (DK_NAP, 1199, "20", "percent"),
    (DK_NAP, 1246, "13.9", "percent"),
    (DK_NAP, 1246, "21.1", "percent"),
    (DK_NAP, 1247, "16.7", "percent"),
    (DK_NAP, 1248, "34", "percent"),
    (DK_NAP, 1249, "13.8", "percent"),
    (DK_NAP, 1249, "34.9", "percent"),
    (DK_NAP, 1254, "36", "percent"),
    (DK_NAP, 1255, "9", "percent"),
    (DK_NAP, 1255, "23.2", "percent"),
    (DK_NAP, 1258, "20", "percent"),
    (DK_NAP, 1258, "9", "percent"),
    (DK_NAP, 1265, "12", "percent"),
    (DK_NAP, 1270, "9", "percent"),
    (DK_NAP, 1274, "20", "percent"),
    (DK_NAP, 1280, "21.1", "percent"),
]


def _expected_value(raw: str, unit: str) -> float:
    """The value a seed row has in our files: percent as a share, a date as its year."""
    if unit.startswith("percent"):
        return float(raw) / 100
    if unit == "date":
        return float(raw[-4:] if raw.startswith("mid-") else raw[:4])
    return float(raw)


# ---------------------------------------------------------------------------------------------
# The shipped files
# ---------------------------------------------------------------------------------------------
def test_shipped_files_load_with_every_column():
    frame = load_figures()
    assert list(frame.columns) == [*COLUMNS, "file", "row"]
    files = set(frame["file"])
    assert {"calibration/data/figures.csv", "calibration/data/public_inputs.csv"} <= files
    assert len(frame) >= 200
    assert frame["value"].map(math.isfinite).all()


def test_every_shipped_file_has_exactly_the_documented_header():
    for path in sorted(DATA_DIR.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            assert tuple(next(csv.reader(fh))) == COLUMNS, path.name


def test_ids_are_unique_across_files():
    frame = load_figures()
    assert frame["id"].is_unique


def test_shares_lie_in_zero_one_and_relevance_is_known():
    frame = load_figures()
    shares = frame[frame["unit"] == "share"]["value"]
    assert ((shares >= 0) & (shares <= 1)).all()
    assert set(frame["relevance"]) <= {"high", "medium", "low"}


def test_the_embedded_high_relevance_list_is_the_shared_extraction():
    if not SHARED_SEED_FIGURES.exists():
        pytest.skip("the shared seed-figure extraction is not available on this machine")
    with SHARED_SEED_FIGURES.open(encoding="utf-8", newline="") as fh:
        high = [
            (r["seed_file"], int(r["line"]), r["value"])
            for r in csv.DictReader(fh)
            if r["relevance"] == "high"
        ]
    assert high == [(f, line, v) for f, line, v, _ in HIGH_RELEVANCE_SEED_ROWS]


@pytest.mark.parametrize(
    ("seed_file", "line", "raw", "unit"),
    HIGH_RELEVANCE_SEED_ROWS,
    ids=[f"line{line}-{raw}" for _, line, raw, _ in HIGH_RELEVANCE_SEED_ROWS],
)
def test_every_high_relevance_seed_row_is_represented(seed_file, line, raw, unit):
    frame = load_figures()
    rows = frame[(frame["source_file"] == seed_file) & (frame["locator"] == f"line {line}")]
    want = _expected_value(raw, unit)
    hits = rows[rows["value"].map(lambda v: math.isclose(v, want, abs_tol=1e-9))]
    assert len(hits) == 1, (line, raw, rows[["id", "value"]].to_dict("records"))
    assert hits.iloc[0]["relevance"] == "high"
    if unit.startswith("percent"):
        assert hits.iloc[0]["unit"] == "share"


def test_the_figures_the_danish_scenarios_use_hold_their_values():
    assert figure("dk-police-leaders-women-2024")["value"] == pytest.approx(0.09)
    assert figure("dk-police-leaders-target-2030")["value"] == pytest.approx(0.20)
    assert figure("dk-police-officers-women-2024")["value"] == pytest.approx(0.211)
    assert figure("dk-defence-military-women-2023")["value"] == pytest.approx(0.096)
    assert figure("dk-defence-m400-fte-2020")["value"] == 349
    assert figure("dk-dema-staff-women-2023")["value"] == pytest.approx(0.292)
    assert figure("dk-dema-uniformed-women-2023")["value"] == pytest.approx(0.164)
    heads = figure("dk-dema-heads-women-2024-01-01")
    assert heads["value"] == pytest.approx(0.20)
    assert heads["date"] == "2024-01-01"
    target = figure("dk-dema-heads-target-2028")
    assert (target["value"], target["kind"], target["date"]) == (0.4, "target", "2028-12-31")
    assert figure("cph-l2-all-headcount-total-2025-01")["value"] == 119
    assert figure("cph-l1-all-headcount-total-2025-01")["value"] == 24


def test_copenhagen_tables_add_up():
    frame = load_figures()
    for level, total in (("l1", 24), ("l2", 119)):
        counts = frame[
            frame["id"].str.match(rf"cph-{level}-(?!all)[a-z]+-headcount-total-2025-01$")
        ]
        assert len(counts) == 7
        assert counts["value"].sum() == total


def test_every_public_input_row_cites_public_inputs_md():
    frame = load_figures([DATA_DIR / "public_inputs.csv"])
    assert frame["locator"].str.startswith("public-inputs.md line").all()
    assert (frame["source_file"] == "").all()


def _locator_lines(locator: str) -> set[int]:
    m = re.fullmatch(r"public-inputs\.md lines? (\d+)(?:-(\d+))?", locator)
    assert m, locator
    first = int(m.group(1))
    return set(range(first, int(m.group(2) or first) + 1))


def test_every_table_row_of_public_inputs_md_is_represented():
    if not SHARED_PUBLIC_INPUTS.exists():
        pytest.skip("public-inputs.md is not available on this machine")
    lines = SHARED_PUBLIC_INPUTS.read_text(encoding="utf-8").splitlines()
    table_rows = {
        n
        for n, line in enumerate(lines, start=1)
        if line.startswith("| ")
        and re.search(r"\d", line)
        and not line.startswith(("| quantity", "| year"))
    }
    frame = load_figures([DATA_DIR / "public_inputs.csv"])
    covered = set().union(*(_locator_lines(loc) for loc in frame["locator"]))
    assert table_rows - QUALITATIVE_PUBLIC_INPUT_LINES <= covered
    assert {43, 44, 46, 50} <= covered  # dropout paragraph and the 2025 reform dates


# ---------------------------------------------------------------------------------------------
# The loader rejects malformed files
# ---------------------------------------------------------------------------------------------
GOOD = {
    "id": "test-share-2024",
    "organisation": "Test organisation",
    "population": "all staff",
    "grades": "staff;heads",
    "quantity": "share_women",
    "value": "0.25",
    "unit": "share",
    "date": "2024",
    "kind": "observed",
    "source_document": "A test document",
    "source_file": "",
    "locator": "line 1",
    "quote": "25 procent",
    "english": "25 percent",
    "relevance": "high",
    "note": "",
}


def _write(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    columns = list(columns or COLUMNS)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _row(**changes: str) -> dict[str, str]:
    return {**GOOD, **changes}


def _issues(*paths: Path) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        load_figures(paths)
    return [str(i) for i in err.value.issues]


def test_a_good_file_loads(tmp_path):
    path = _write(
        tmp_path / "good.csv", [_row(), _row(id="test-count", unit="persons", value="12")]
    )
    frame = load_figures([path])
    assert list(frame["value"]) == [0.25, 12.0]
    assert list(frame["row"]) == [1, 2]


def test_bad_number_names_file_row_and_field(tmp_path):
    path = _write(tmp_path / "f.csv", [_row(), _row(id="second", value="abc")])
    (issue,) = _issues(path)
    assert issue.startswith(f"{path}:row 2.value: must be a number")
    assert "(got 'abc')" in issue


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1,5", ""])
def test_non_finite_or_unparseable_values_are_rejected(tmp_path, bad):
    path = _write(tmp_path / "f.csv", [_row(value=bad, unit="persons")])
    (issue,) = _issues(path)
    assert issue.startswith(f"{path}:row 1.value: ")


def test_share_above_one_is_rejected(tmp_path):
    path = _write(tmp_path / "f.csv", [_row(value="29.2")])
    (issue,) = _issues(path)
    assert issue.startswith(f"{path}:row 1.value: a share must be from 0 to 1")
    assert "(got '29.2')" in issue


def test_a_negative_share_is_rejected_but_a_large_count_is_not(tmp_path):
    path = _write(
        tmp_path / "f.csv", [_row(value="-0.1"), _row(id="count", unit="persons", value="5")]
    )
    (issue,) = _issues(path)
    assert issue.startswith(f"{path}:row 1.value: a share must be from 0 to 1")


def test_unknown_column_is_rejected(tmp_path):
    path = _write(tmp_path / "f.csv", [_row(colour="red")], [*COLUMNS, "colour"])
    (issue,) = _issues(path)
    assert issue.startswith(f"{path}:header: unknown column")
    assert "'colour'" in issue


def test_missing_column_is_rejected(tmp_path):
    columns = [c for c in COLUMNS if c != "relevance"]
    path = _write(tmp_path / "f.csv", [_row()], columns)
    (issue,) = _issues(path)
    assert issue == f"{path}:header: required column is missing (got 'relevance')"


def test_empty_required_field_is_rejected(tmp_path):
    path = _write(tmp_path / "f.csv", [_row(quote="")])
    (issue,) = _issues(path)
    assert issue.startswith(f"{path}:row 1.quote: required field is empty")


def test_row_with_too_few_fields_is_rejected(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(",".join(COLUMNS) + "\nonly,three,fields\n", encoding="utf-8")
    (issue,) = _issues(path)
    assert issue.startswith(f"{path}:row 1: has 3 fields; the header has {len(COLUMNS)}")


def test_duplicate_id_within_a_file_is_rejected(tmp_path):
    path = _write(tmp_path / "f.csv", [_row(), _row()])
    (issue,) = _issues(path)
    assert issue.startswith(f"{path}:row 2.id: duplicate id; first used at {path}:row 1")


def test_duplicate_id_across_files_is_rejected(tmp_path):
    first = _write(tmp_path / "a.csv", [_row()])
    second = _write(tmp_path / "b.csv", [_row(id="other"), _row()])
    (issue,) = _issues(first, second)
    assert issue.startswith(f"{second}:row 2.id: duplicate id; first used at {first}:row 1")


@pytest.mark.parametrize("bad", ["2024-13", "2024-02-30", "mid-2025", "24", "2024/25"])
def test_bad_date_is_rejected(tmp_path, bad):
    path = _write(tmp_path / "f.csv", [_row(date=bad)])
    (issue,) = _issues(path)
    assert issue.startswith(f"{path}:row 1.date: ")


@pytest.mark.parametrize("good", ["", "2024", "2024-09", "2024-01-01", "2024-02-29"])
def test_good_dates_are_accepted(tmp_path, good):
    load_figures([_write(tmp_path / "f.csv", [_row(date=good)])])


def test_bad_relevance_kind_id_and_grades_are_rejected(tmp_path):
    path = _write(
        tmp_path / "f.csv",
        [_row(relevance="very high", kind="guess", id="Has Spaces", grades="staff; heads")],
    )
    issues = _issues(path)
    fields = sorted(i.split(":", 2)[1].split(".", 1)[1] for i in issues)
    assert fields == ["grades", "id", "kind", "relevance"]
    assert all(i.startswith(f"{path}:row 1.") for i in issues)
    relevance = next(i for i in issues if ".relevance:" in i)
    assert "['high', 'medium', 'low']" in relevance


def test_every_problem_in_every_file_is_reported_at_once(tmp_path):
    first = _write(tmp_path / "a.csv", [_row(value="x"), _row(id="b", value="2", unit="share")])
    second = _write(tmp_path / "b.csv", [_row(id="c", relevance="")], [*COLUMNS])
    issues = _issues(first, second)
    assert [i.split(":", 2)[1] for i in issues] == ["row 1.value", "row 2.value", "row 1.relevance"]


def test_unreadable_and_non_utf8_files_are_reported(tmp_path):
    missing = tmp_path / "missing.csv"
    latin = tmp_path / "latin.csv"
    latin.write_bytes((",".join(COLUMNS) + "\n").encode() + "Kønsfordeling\n".encode("latin-1"))
    issues = _issues(missing, latin)
    assert issues[0].startswith(f"{missing}: cannot read file")
    assert issues[1].startswith(f"{latin}: not UTF-8 text")


# ---------------------------------------------------------------------------------------------
# figure() and figures_for_scenario()
# ---------------------------------------------------------------------------------------------
def test_figure_returns_one_row_as_a_dict():
    fig = figure("dk-police-officers-women-2024")
    assert fig["source_file"] == DK_NAP
    assert fig["locator"] == "line 1246"
    assert fig["grades"] == "police_officers;police_leaders"
    assert isinstance(fig["value"], float)


def test_figure_with_an_unknown_id_raises_key_error():
    with pytest.raises(KeyError, match="no-such-figure"):
        figure("no-such-figure")


def test_figures_for_scenario_finds_cited_ids_and_an_organisation():
    scenario = load_scenario(ROOT / "scenarios" / "dk_dema.toml")
    found = figures_for_scenario(scenario)
    cited = set(found["id"])
    assert {
        "dk-dema-staff-women-2023",
        "dk-dema-heads-women-2024-01-01",
        "dk-dema-heads-target-2028",
    } <= cited
    assert set(found["match"]) == {"cited"}
    wider = figures_for_scenario(scenario, organisation="Beredskabsstyrelsen")
    assert "dk-dema-intl-pool-women-2024" in set(wider["id"])
    assert cited <= set(wider["id"])


def test_figures_for_scenario_does_not_match_an_id_inside_a_longer_one():
    data = {"description": "cites dk-police-leaders-women-2024-chart only"}
    found = set(figures_for_scenario(data)["id"])
    assert found == {"dk-police-leaders-women-2024-chart"}


def test_figures_for_scenario_rejects_unknown_listed_ids():
    with pytest.raises(KeyError, match="nope"):
        figures_for_scenario({}, ids=["nope"])


def test_every_figure_id_cited_by_the_new_scenarios_exists():
    for name in ("dk_dema", "cph_leaders"):
        scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
        assert len(figures_for_scenario(scenario)) >= 3, name


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------
@given(st.floats(min_value=0.0, max_value=1.0, allow_nan=False))
def test_any_share_round_trips(tmp_path_factory, share):
    path = _write(tmp_path_factory.mktemp("p") / "f.csv", [_row(value=repr(share))])
    assert load_figures([path])["value"].iloc[0] == share


def _not_a_number(text: str) -> bool:
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return True


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).filter(
        _not_a_number
    )
)
def test_any_non_number_is_rejected_at_the_value_field(tmp_path_factory, text):
    path = _write(tmp_path_factory.mktemp("p") / "f.csv", [_row(value=text, unit="persons")])
    with pytest.raises(ScenarioError) as err:
        load_figures([path])
    assert [i.path for i in err.value.issues] == [f"{path}:row 1.value"]
