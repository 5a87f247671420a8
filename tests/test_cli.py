"""The ``parity`` command line, run in-process (``simulator.cli.main``) and as a subprocess.

Verified:

* ``validate``: exit 0 and an ``ok:`` line for a valid file; exit 2 with every problem as
  ``path: message (got value)`` for an invalid one (schema errors and errors found when
  compiling policies); several files at once;
* ``run --json``: valid JSON whose targets carry id, population, comparator, value, deadline,
  expected_share, probability, probability_ci, quantiles ("5" … "95") and first_year_met;
* ``run --out``: the tidy tables, summary.json and manifest.json (scenario_sha256,
  parity_version, git_commit, seed, engine, replications, started_utc, elapsed_seconds) are
  written; ``--format parquet`` tables are readable by pandas;
* bad ``--reps`` / ``--seed`` and unreadable files give exit 2 with a clear message and no
  traceback;
* ``python -m simulator`` works as a real subprocess.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.cli import main
from simulator.scenario import load_scenario, scenario_fingerprint
from tests.factories import ladder

try:
    import tomli_w
except ImportError:  # pragma: no cover - tomli-w is a dependency
    tomli_w = None

ROOT = Path(__file__).resolve().parent.parent
QUANTILE_KEYS = {"5", "25", "50", "75", "95"}
TARGET_KEYS = {
    "id",
    "population",
    "comparator",
    "value",
    "deadline",
    "expected_share",
    "probability",
    "probability_ci",
    "quantiles",
    "first_year_met",
}
#: An issue line of a report: ``  - path: message (got value)``.
ISSUE_LINE = re.compile(r"^  - (?P<path>[^:\s]+): (?P<message>.+) \(got (?P<value>.+)\)$")


def write_scenario(directory: Path, data: dict[str, Any], name: str = "scenario") -> Path:
    """Write a scenario dict as TOML (or JSON when tomli-w is missing); return the path."""
    if tomli_w is not None:
        path = directory / f"{name}.toml"
        path.write_text(tomli_w.dumps(data), encoding="utf-8")
    else:  # pragma: no cover
        path = directory / f"{name}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
    return path


def scenario_with_targets() -> dict[str, Any]:
    """Two grades, 10 years, one target of each comparator (grade, workforce, intake)."""
    return ladder(
        2,
        start_year=2024,
        end_year=2034,
        groups={"everyone": ["g0", "g1"]},
        targets=[
            {
                "id": "top_20",
                "population": "g1",
                "comparator": "at_least",
                "value": 0.2,
                "deadline": 2030,
            },
            {
                "id": "balanced",
                "population": "workforce",
                "comparator": "between",
                "low": 0.2,
                "high": 0.6,
                "deadline": 2034,
                "sustained": True,
            },
            {
                "id": "intake_cap",
                "population": "intake",
                "comparator": "at_most",
                "value": 0.5,
                "deadline": 2026,
            },
        ],
    )


@pytest.fixture
def good_file(tmp_path) -> Path:
    """A valid scenario file with targets."""
    return write_scenario(tmp_path, scenario_with_targets(), "good")


@pytest.fixture
def bad_file(tmp_path) -> Path:
    """A scenario file with two schema errors."""
    data = ladder(2)
    data["attrition"][1]["women"] = 1.08
    data["initial"][0]["men"] = -4
    return write_scenario(tmp_path, data, "bad")


def assert_no_traceback(text: str) -> None:
    """The user never sees a Python traceback."""
    assert "Traceback" not in text
    assert 'File "' not in text


# ---------------------------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------------------------
def test_validate_ok(good_file, capsys):
    """A valid file: exit 0 and one ok line naming it."""
    assert main(["validate", str(good_file)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"ok: {good_file}")
    assert "2 grades" in out
    assert err == ""


def test_validate_invalid_reports_every_problem_with_path_message_value(bad_file, capsys):
    """An invalid file: exit 2, a heading with the file and count, one issue line each."""
    assert main(["validate", str(bad_file)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert_no_traceback(err)
    lines = err.splitlines()
    assert lines[0] == f"{bad_file}: 2 problems found"
    issues = {m["path"]: m for m in map(ISSUE_LINE.match, lines[1:]) if m}
    assert len(issues) == 2, lines
    assert issues["attrition[1].women"]["value"] == "1.08"
    assert "0" in issues["attrition[1].women"]["message"]
    assert issues["initial[0].men"]["value"] == "-4"


def test_validate_several_files_reports_each(good_file, bad_file, capsys):
    """A good and a bad file: the good one is ok, the bad one reported, exit 2 overall."""
    assert main(["validate", str(good_file), str(bad_file)]) == 2
    out, err = capsys.readouterr()
    assert f"ok: {good_file}" in out
    assert f"{bad_file}: 2 problems found" in err


def test_validate_reports_problems_found_when_compiling_policies(tmp_path, capsys):
    """A policy that makes attrition + promotion exceed 1 in 2028 fails validation."""
    data = ladder(2, start_year=2024, end_year=2034, attrition=[(0.5, 0.5), (0.1, 0.1)])
    data["promotions"][0]["probability"] = {"women": 0.4, "men": 0.4}
    data["policies"] = [
        {
            "id": "exodus",
            "parameter": "attrition",
            "from_year": 2028,
            "scale": 1.5,
            "assumption": "test",
        }
    ]
    path = write_scenario(tmp_path, data)
    assert main(["validate", str(path)]) == 2
    _, err = capsys.readouterr()
    assert_no_traceback(err)
    [line] = [m for m in map(ISSUE_LINE.match, err.splitlines()) if m]
    assert line["path"].startswith("promotions[0].probability.")
    assert "2028" in line["message"]
    assert "exodus" in line["message"]


# ---------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------
def test_run_json_prints_the_summary_with_every_target_key(good_file, capsys):
    """--json: valid JSON (no NaN), provenance, and the per-target keys of the contract."""
    assert main(["run", str(good_file), "--reps", "60", "--seed", "7", "--json"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert_no_traceback(err)
    assert summary["engine"] == "stochastic"
    assert summary["replications"] == 60
    assert summary["seed"] == 7
    assert summary["scenario_sha256"] == scenario_fingerprint(load_scenario(good_file))
    assert [t["id"] for t in summary["targets"]] == ["top_20", "balanced", "intake_cap"]
    for target in summary["targets"]:
        assert TARGET_KEYS <= set(target), TARGET_KEYS - set(target)
        assert 0.0 <= target["probability"] <= 1.0
        lo, hi = target["probability_ci"]
        assert 0.0 <= lo <= target["probability"] <= hi <= 1.0
        assert set(target["quantiles"]) == QUANTILE_KEYS
        q = [target["quantiles"][k] for k in ("5", "25", "50", "75", "95")]
        assert q == sorted(q)
        assert all(0.0 <= x <= 1.0 for x in q)
        first = target["first_year_met"]
        assert first is None or set(first) == QUANTILE_KEYS
        assert 0.0 <= target["expected_share"] <= 1.0
    by_id = {t["id"]: t for t in summary["targets"]}
    assert by_id["balanced"]["value"] == [0.2, 0.6]
    assert by_id["top_20"]["value"] == 0.2
    assert by_id["intake_cap"]["comparator"] == "at_most"
    assert by_id["top_20"]["deadline"] == 2030


def test_run_json_is_reproducible_with_a_seed(good_file, capsys):
    """Two runs with the same seed print the same targets."""
    main(["run", str(good_file), "--reps", "30", "--seed", "3", "--json"])
    first = json.loads(capsys.readouterr().out)
    main(["run", str(good_file), "--reps", "30", "--seed", "3", "--json"])
    second = json.loads(capsys.readouterr().out)
    assert first["targets"] == second["targets"]


def test_run_expected_engine_has_no_probabilities(good_file, capsys):
    """--engine expected: one deterministic path, so probabilities and quantiles are null."""
    assert main(["run", str(good_file), "--engine", "expected", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["engine"] == "expected"
    for target in summary["targets"]:
        assert target["probability"] is None
        assert target["quantiles"] is None
        assert target["expected_share"] is not None


def test_run_prints_a_readable_table(good_file, capsys):
    """Without --json: a table with one row per target."""
    assert main(["run", str(good_file), "--reps", "20", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    for tid in ("top_20", "balanced", "intake_cap"):
        assert tid in out
    assert "20 replications, seed 1" in out


STOCHASTIC_TABLES = ["stocks", "shares", "quantiles", "diagnostics"]
EXPECTED_TABLES = ["expected_stocks", "expected_shares"]


def test_run_out_writes_tables_summary_and_manifest(good_file, tmp_path, capsys):
    """--out: CSV tables, summary.json and a manifest with the provenance of the run."""
    out_dir = tmp_path / "results"
    before = datetime.now().astimezone()
    assert main(["run", str(good_file), "--reps", "40", "--seed", "11", "--out", str(out_dir)]) == 0
    capsys.readouterr()
    for name in STOCHASTIC_TABLES + EXPECTED_TABLES:
        assert (out_dir / f"{name}.csv").is_file(), name
    assert not list(out_dir.glob("*.tmp"))
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["seed"] == 11
    manifest = json.loads((out_dir / "manifest.json").read_text())
    for key in (
        "scenario_sha256",
        "parity_version",
        "git_commit",
        "seed",
        "engine",
        "replications",
        "started_utc",
        "elapsed_seconds",
    ):
        assert key in manifest, key
    assert manifest["scenario_sha256"] == scenario_fingerprint(load_scenario(good_file))
    assert manifest["parity_version"] == simulator.__version__
    assert manifest["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", manifest["git_commit"])
    assert manifest["seed"] == 11
    assert manifest["engine"] == "stochastic"
    assert manifest["replications"] == 40
    started = datetime.fromisoformat(manifest["started_utc"])
    assert started.utcoffset() is not None
    assert started.utcoffset().total_seconds() == 0
    assert abs((started - before).total_seconds()) < 600
    assert manifest["elapsed_seconds"] >= 0
    assert set(manifest["files"]) >= {f"{n}.csv" for n in STOCHASTIC_TABLES} | {"summary.json"}

    stocks = pd.read_csv(out_dir / "stocks.csv")
    assert len(stocks) == 40 * 11 * 2 * 2  # replications × year-ends × grades × sexes
    assert set(stocks["replication"]) == set(range(40))
    flows = stocks[stocks["year"] > 2024].sort_values(["replication", "grade", "sex", "year"])
    prev = stocks.set_index(["replication", "grade", "sex", "year"])["stock"]
    keys = list(
        zip(flows["replication"], flows["grade"], flows["sex"], flows["year"] - 1, strict=True)
    )
    identity = (
        prev.loc[keys].to_numpy()
        - flows["leavers"].to_numpy()
        - flows["promoted_out"].to_numpy()
        + flows["promoted_in"].to_numpy()
        + flows["recruits"].to_numpy()
        + flows["lateral_in"].to_numpy()
    )
    np.testing.assert_array_equal(identity, flows["stock"].to_numpy())


def test_manifest_records_the_command_that_was_run(good_file, tmp_path, capsys):
    """The manifest's command is the one given to ``main``, not the host process's argv."""
    out_dir = tmp_path / "results"
    argv = ["run", str(good_file), "--reps", "10", "--seed", "2", "--out", str(out_dir)]
    assert main(argv) == 0
    capsys.readouterr()
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["command"] == ["parity", *argv]


def test_run_out_parquet_tables_are_readable_by_pandas(good_file, tmp_path, capsys):
    """--format parquet: every table reads back with pandas, same rows as the CSV version."""
    pq_dir, csv_dir = tmp_path / "pq", tmp_path / "csv"
    common = ["run", str(good_file), "--reps", "25", "--seed", "5"]
    assert main([*common, "--out", str(pq_dir), "--format", "parquet"]) == 0
    assert main([*common, "--out", str(csv_dir)]) == 0
    capsys.readouterr()
    for name in STOCHASTIC_TABLES + EXPECTED_TABLES:
        frame = pd.read_parquet(pq_dir / f"{name}.parquet")
        csv = pd.read_csv(csv_dir / f"{name}.csv")
        assert list(frame.columns) == list(csv.columns), name
        assert len(frame) == len(csv), name
    stocks = pd.read_parquet(pq_dir / "stocks.parquet")
    np.testing.assert_array_equal(
        stocks["stock"].to_numpy(), pd.read_csv(csv_dir / "stocks.csv")["stock"].to_numpy()
    )


def test_steady_json(good_file, capsys):
    """``steady --json``: the steady state by grade and sex, and years to each target."""
    assert main(["steady", str(good_file), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["share"]) == {"g0", "g1"}
    assert set(out["years_to_target"]) == {"top_20", "balanced", "intake_cap"}
    assert all(0 <= v <= 1 for v in out["share"].values())


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reps", "0"], "--reps must be between 1 and 100000 (got 0)"),
        (["--reps", "100001"], "--reps must be between 1 and 100000 (got 100001)"),
        (["--reps", "lots"], "--reps must be an integer (got 'lots')"),
        (["--seed", "-1"], "--seed must be between 0 and"),
        (["--seed", "1.5"], "--seed must be an integer (got '1.5')"),
        (["--engine", "quantum"], "invalid choice: 'quantum'"),
        (["--format", "xlsx"], "invalid choice: 'xlsx'"),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(good_file, capsys, args, message):
    """Option errors: exit status 2 and a one-line reason, no traceback."""
    with pytest.raises(SystemExit) as info:
        main(["run", str(good_file), *args])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    assert_no_traceback(err)


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.toml", "cannot read file"),
        (lambda d: d, "cannot read file"),
        (lambda d: _write_bytes(d / "binary.toml", b"\xff\xfe\x00garbage\x80"), "not UTF-8"),
        (lambda d: _write_bytes(d / "syntax.toml", b"name = \n[[grades]\n"), "not valid TOML"),
        (lambda d: _write_bytes(d / "syntax.json", b'{"name": '), "not valid JSON"),
    ],
    ids=["missing", "directory", "binary", "toml-syntax", "json-syntax"],
)
@pytest.mark.parametrize("command", ["validate", "run", "steady"])
def test_unreadable_files_exit_2_with_a_message(tmp_path, capsys, make, message, command):
    """A file that cannot be read or parsed: exit 2, the reason, no traceback."""
    path = make(tmp_path)
    assert main([command, str(path)]) == 2
    out, err = capsys.readouterr()
    assert str(path) in err
    assert message in err
    assert_no_traceback(err)
    assert out == ""


def test_invalid_scenario_in_run_exits_2(bad_file, capsys):
    """``run`` on an invalid file reports its problems like ``validate`` does."""
    assert main(["run", str(bad_file), "--reps", "10"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "attrition[1].women" in err
    assert_no_traceback(err)


# ---------------------------------------------------------------------------------------------
# A real subprocess
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow  # two interpreter start-ups with numpy/scipy/pandas imports: ~5 s
def test_python_dash_m_simulator_in_a_subprocess(good_file, bad_file):
    """``python -m simulator``: run --json on a good file; validate on a bad one exits 2."""
    env_cwd = {"cwd": ROOT, "capture_output": True, "text": True, "timeout": 300}
    ran = subprocess.run(
        [sys.executable, "-m", "simulator", "run", str(good_file), "--reps", "20", "--json"],
        check=False,
        **env_cwd,
    )
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert {t["id"] for t in summary["targets"]} == {"top_20", "balanced", "intake_cap"}
    checked = subprocess.run(
        [sys.executable, "-m", "simulator", "validate", str(good_file), str(bad_file)],
        check=False,
        **env_cwd,
    )
    assert checked.returncode == 2
    assert f"ok: {good_file}" in checked.stdout
    assert any(ISSUE_LINE.match(line) for line in checked.stderr.splitlines())
    assert_no_traceback(checked.stderr)
