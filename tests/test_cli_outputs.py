# ruff: noqa: E501  (the cases read best one per line)
"""Output paths are checked before any work, and no command overwrites what it reads.

For ``run``, ``report``, ``sweep``, ``calibrate``, ``backtest`` and ``solve``: an output that
is a directory where a file is wanted (or a file where a directory is wanted), lies under an
existing file, or is one of the command's inputs, exits 2 with ``option: message (got path)``
and leaves every file as it was; a bad ``--tol`` or Dask scheduler address exits 2 naming the
option. Not statistical.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from simulator.cli import main
from tests.factories import ladder, tiny_problem

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    scenario = ladder(2, start_year=2000, end_year=2006, initial=[(100, 400), (50, 450)])
    scenario["targets"] = [
        {
            "id": "t",
            "population": "g1",
            "comparator": "at_least",
            "value": 0.2,
            "deadline": 2006,
            "assumption": "test",
        }
    ]
    (tmp_path / "s.toml").write_text(tomli_w.dumps(scenario))
    (tmp_path / "afile").write_text("keep me")
    problem = tiny_problem(tmp_path, {}, points=64, draws=20)  # writes tmp_path/tiny.toml
    (tmp_path / "p.toml").write_text(tomli_w.dumps(problem))
    return {"s": tmp_path / "s.toml", "p": tmp_path / "p.toml", "dir": tmp_path}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


CASES = [
    (["run", "{s}", "--reps", "5", "--out", "{dir}/afile"], "--out", "is a file"),
    (["run", "{s}", "--reps", "5", "--out", "{dir}/afile/x"], "--out", "is a file, not a directory"),
    (["report", "{s}", "--reps", "5", "--out", "{s}"], "--out", "is an input of this command"),
    (["report", "{s}", "--reps", "5", "--out", "{dir}"], "--out", "is a directory"),
    (["report", "{s}", "--reps", "5", "--out", "{dir}/afile/r.html"], "--out", "not a directory"),
    (["calibrate", "{p}", "--out", "{p}"], "--out", "is an input of this command"),
    (["calibrate", "{p}", "--out", "{dir}/tiny.toml"], "--out", "is an input of this command"),
    (["calibrate", "{p}", "--out", "{dir}/o.toml", "--chart", "{dir}/afile/c.svg"], "--chart", "not a directory"),
    (["calibrate", "{p}", "--out", "{dir}/o.toml", "--table", "{dir}"], "--table", "is a directory"),
    (["backtest", "{p}", "--cutoff", "2004", "--out", "{dir}"], "--out", "is a directory"),
    (["solve", "{s}", "--lever", "intake_women_share", "--tol", "0"], "tol", "must be above 0"),
    (["solve", "{s}", "--lever", "intake_women_share", "--tol", "5"], "tol", "below half"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "option", "words"), CASES, ids=lambda x: str(x)[:40])
def test_bad_outputs_exit_2_name_the_option_and_lose_nothing(files, capsys, argv, option, words):
    before = _snapshot(files["dir"])
    args = [a.format(**{k: str(v) for k, v in files.items()}) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{option}:" in err
    assert words in err
    assert _snapshot(files["dir"]) == before  # nothing written, nothing overwritten


def test_a_dask_scheduler_that_is_not_an_address_exits_2(tmp_path, capsys):
    sweep = ROOT / "sweeps" / "police_leaders.toml"
    argv = ["sweep", str(sweep), "--out", str(tmp_path / "o"), "--executor", "dask"]
    assert main([*argv, "--scheduler", "notanaddress"]) == 2
    assert "--scheduler: cannot connect" in capsys.readouterr().err
