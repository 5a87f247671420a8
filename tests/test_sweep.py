"""Batch sweeps (simulator.sweep, simulator.sweep_spec, simulator.sweep_cli).

What is verified:

* sweep files: every problem is reported at once, field by field, as ``path: message (got …)``;
  parameter paths address list items by position or by a field (``promotions[to=g2]``);
  grids are full factorial, Latin hypercube samples are stratified within their bounds;
* exactness: a sweep point's tables and summary equal what the core API gives for that point's
  scenario run alone with the same replications and seed, whatever the chunking;
* a failing point is reported by its parameter values with its error, the other points' results
  are kept, and the command exits non-zero;
* resume: a sweep killed with SIGKILL mid-run and started again ends with exactly the tables of
  an uninterrupted run (nothing lost, nothing duplicated); leftover temporary files, data files
  without a marker and corrupted files are repaired; a directory of another sweep is refused;
* executor equivalence: serial, a process pool of 2, a Dask LocalCluster and a separately
  started ``dask scheduler`` + ``dask worker`` give identical tables.

All comparisons are exact (the engine's streams are keyed by replication block and decision),
so no statistical tolerance is involved.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from pandas.testing import assert_frame_equal

from simulator import compile_scenario, parse_scenario, run, run_and_summarize
from simulator.errors import ScenarioError
from simulator.sweep import TABLES, completed_tasks, read_table, run_sweep
from simulator.sweep_cli import add_subcommands, dispatch
from simulator.sweep_spec import load_sweep, loads_sweep, parse_path, set_path
from tests.factories import ladder

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------
def base_scenario() -> dict:
    """Three grades, vacancy-mode top grade with an establishment, a target on the top grade."""
    return ladder(
        3,
        start_year=2000,
        end_year=2008,
        initial=[(60, 240), (30, 120), (8, 42)],
        establishment=[None, None, 50],
        promotion=[
            {"mode": "rate", "probability": {"women": 0.1, "men": 0.1}},
            {"mode": "vacancy", "min_years_in_grade": 1},
        ],
        recruitment={"mode": "fixed", "intake": 60, "women_share": 0.3},
        targets=[
            {
                "id": "top",
                "population": "g2",
                "comparator": "at_least",
                "value": 0.25,
                "deadline": 2006,
            },
            {
                "id": "top-sustained",
                "population": "g2",
                "comparator": "at_least",
                "value": 0.2,
                "deadline": 2005,
                "sustained": True,
            },
        ],
    )


SWEEP = """
name = "test sweep"
scenario = "base.toml"
replications = {reps}
seed = 11
chunk_replications = {chunk}

[[grid]]
path = "recruitment.women_share"
name = "intake"
values = {intake}

[[grid]]
path = "promotions[to=g2].women_floor"
name = "floor"
values = {floor}
"""


def write_sweep(
    folder: Path,
    reps: int = 200,
    chunk: int = 100,
    intake: str = "[0.3, 0.5]",
    floor: str = "[0.0, 0.4]",
    name: str = "sweep.toml",
) -> Path:
    """Write base.toml and a sweep file into ``folder``; return the sweep file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.toml").write_bytes(tomli_w.dumps(base_scenario()).encode())
    path = folder / name
    path.write_text(SWEEP.format(reps=reps, chunk=chunk, intake=intake, floor=floor))
    return path


def all_tables(out: Path) -> dict[str, pd.DataFrame]:
    """Every output table, plus the summary, in a canonical row order."""
    tables = {name: read_table(out, name) for name in TABLES}
    tables["summary"] = pd.read_parquet(out / "summary.parquet")
    return tables


def assert_same_results(a: Path, b: Path) -> None:
    ta, tb = all_tables(a), all_tables(b)
    for name in ta:
        assert_frame_equal(ta[name], tb[name], check_exact=True, obj=name)
    files_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("p*-c*.*"))
    files_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("p*-c*.*"))
    assert files_a == files_b


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """An uninterrupted serial run of the standard test sweep: (sweep file, output dir)."""
    folder = tmp_path_factory.mktemp("reference")
    sweep = write_sweep(folder, reps=250, chunk=100)
    out = folder / "out"
    outcome = run_sweep(sweep, out, executor="serial")
    assert outcome.ok
    assert outcome.tasks_run == 4 * 3
    return sweep, out


# --------------------------------------------------------------------------------------------
# Sweep files
# --------------------------------------------------------------------------------------------
def test_bad_sweep_file_reports_every_problem_by_field(tmp_path):
    write_sweep(tmp_path)
    text = """
name = "bad"
scenario = "base.toml"
replications = 0
chunk_size = 100

[[grid]]
path = "recruitment.women_share"
values = [0.3, "high"]

[[grid]]
path = "promotions[to=g2.women_floor"
values = [0.1]

[sample]
method = "sobol"
n = 10
[[sample.parameters]]
path = "attrition[grade=g1].women"
low = 0.2
high = 0.1
"""
    with pytest.raises(ScenarioError) as info:
        loads_sweep(text, tmp_path, source="bad.toml")
    by_path = {i.path: i for i in info.value.issues}
    assert set(by_path) == {
        "replications",
        "chunk_size",
        "grid[0].values",
        "grid[1].path",
        "sample.n",
        "sample.parameters[0]",
    }
    assert "unknown field" in by_path["chunk_size"].message
    assert "chunk_replications" in by_path["chunk_size"].message  # says what is allowed
    assert "must all be numbers, all strings" in by_path["grid[0].values"].message
    assert "power of 2" in by_path["sample.n"].message
    assert "low (0.2) must be below high (0.1)" in by_path["sample.parameters[0]"].message
    report = info.value.report()
    assert "replications: " in report
    assert "(got 0)" in report


def test_paths_that_do_not_exist_in_the_base_scenario_are_reported(tmp_path):
    write_sweep(tmp_path)
    text = """
name = "bad paths"
scenario = "base.toml"
[[grid]]
path = "promotions[to=nowhere].women_floor"
values = [0.1]
[[grid]]
path = "attrition[7].women"
values = [0.1]
[[grid]]
path = "recruitment.women_share"
name = "share"
values = [0.1]
[[grid]]
path = "recruitment.intake"
name = "share"
values = [50]
"""
    with pytest.raises(ScenarioError) as info:
        loads_sweep(text, tmp_path)
    msgs = {i.path: i.message for i in info.value.issues}
    assert "no item with to = 'nowhere'" in msgs["grid[0].path"]
    assert "values: g1, g2" in msgs["grid[0].path"]
    assert "has 3 items" in msgs["grid[1].path"]
    assert "the same column as grid[2]" in msgs["grid[3].name"]


def test_missing_base_scenario_is_reported(tmp_path):
    with pytest.raises(ScenarioError) as info:
        loads_sweep(
            'name = "x"\nscenario = "nope.toml"\n[[grid]]\npath = "a"\nvalues = [1]\n', tmp_path
        )
    assert info.value.issues[0].path == "scenario"
    assert "cannot read the base scenario" in info.value.issues[0].message


def test_path_addressing_by_position_and_by_field():
    data = base_scenario()
    assert parse_path("promotions[to=g2].women_floor") == [
        "promotions",
        ("to", "g2"),
        "women_floor",
    ]
    set_path(data, parse_path("promotions[to=g2].women_floor"), 0.3)
    set_path(data, parse_path("attrition[grade=g1].women"), 0.2)
    set_path(data, parse_path("attrition[0].men"), 0.05)
    set_path(data, parse_path("grades[2].establishment"), 60)
    assert data["promotions"][1]["women_floor"] == 0.3
    assert data["attrition"][1]["women"] == 0.2
    assert data["attrition"][0]["men"] == 0.05
    assert data["grades"][2]["establishment"] == 60
    parse_scenario(data)  # still a valid scenario
    with pytest.raises(ValueError, match="cannot read"):
        parse_path("promotions[to=g2")
    with pytest.raises(ValueError, match="has no key 'nope'"):
        set_path(data, parse_path("nope.x"), 1)


def test_grid_is_full_factorial_and_lhs_is_stratified(tmp_path):
    write_sweep(tmp_path)
    text = """
name = "grid x lhs"
scenario = "base.toml"
[[grid]]
path = "recruitment.women_share"
values = [0.2, 0.3, 0.4]
[sample]
method = "lhs"
n = 8
seed = 3
[[sample.parameters]]
path = "attrition[grade=g1].women"
low = 0.05
high = 0.15
[[sample.parameters]]
path = "promotions[to=g2].min_years_in_grade"
name = "min_years"
low = 0
high = 3
integer = true
"""
    sweep = loads_sweep(text, tmp_path)
    assert len(sweep.points) == 3 * 8
    shares = [p.values["recruitment.women_share"] for p in sweep.points]
    assert shares == [0.2] * 8 + [0.3] * 8 + [0.4] * 8  # grid outermost
    sampled = np.array([p.values["attrition[grade=g1].women"] for p in sweep.points[:8]])
    # Latin hypercube: exactly one value in each of the 8 equal strata of [low, high).
    strata = np.floor((sampled - 0.05) / 0.1 * 8).astype(int)
    assert sorted(strata) == list(range(8))
    years = [p.values["min_years"] for p in sweep.points[:8]]
    assert all(isinstance(y, int) and 0 <= y <= 3 for y in years)
    assert sorted(years) == [0, 0, 1, 1, 2, 2, 3, 3]  # 8 strata over 4 whole numbers
    # The same sample for every grid value (same sample seed).
    assert [p.values["min_years"] for p in sweep.points[8:16]] == years


# --------------------------------------------------------------------------------------------
# Exactness against the core API
# --------------------------------------------------------------------------------------------
def test_point_results_equal_a_single_run_of_the_point_scenario(reference):
    sweep_file, out = reference
    sweep = load_sweep(sweep_file)
    summary = pd.read_parquet(out / "summary.parquet")
    stocks = read_table(out, "stocks")
    shares = read_table(out, "shares")
    expected_table = read_table(out, "expected")
    for point in (sweep.points[1], sweep.points[3]):
        scenario = sweep.point_scenario(point)
        _, result, single = run_and_summarize(
            scenario, "stochastic", replications=sweep.replications, seed=sweep.seed
        )
        row = summary[summary["point"] == point.index].iloc[0]
        assert row["status"] == "ok"
        for t in single["targets"]:
            assert row[f"{t['id']}.probability"] == t["probability"]
            assert [row[f"{t['id']}.probability_low"], row[f"{t['id']}.probability_high"]] == (
                t["probability_ci"]
            )
            assert row[f"{t['id']}.share_median"] == t["quantiles"]["50"]
            assert row[f"{t['id']}.share_p5"] == t["quantiles"]["5"]
            assert row[f"{t['id']}.expected_share"] == t["expected_share"]
        mine = stocks[stocks["point"] == point.index].reset_index(drop=True)
        core = result.stocks_frame().drop(columns="engine")
        assert_frame_equal(
            mine[core.columns].reset_index(drop=True), core, check_exact=True, check_dtype=False
        )
        assert mine["intake"].eq(point.values["intake"]).all()
        assert mine["floor"].eq(point.values["floor"]).all()
        mine = shares[shares["point"] == point.index].reset_index(drop=True)
        core = result.shares_frame().drop(columns="engine")
        mine = mine[core.columns].astype({"population": str})
        order = ["population", "replication", "year"]  # chunk files hold populations in turn
        assert_frame_equal(
            mine.sort_values(order, kind="stable").reset_index(drop=True),
            core.sort_values(order, kind="stable").reset_index(drop=True),
            check_exact=True,
            check_dtype=False,
        )
        expected = run(compile_scenario(scenario), "expected").shares_frame()
        mine = expected_table[expected_table["point"] == point.index].reset_index(drop=True)
        core = expected.drop(columns=["engine", "replication"])
        mine = mine[core.columns].astype({"population": str})
        assert_frame_equal(mine, core, check_exact=True, check_dtype=False)
    # Common random numbers: every point uses the sweep's root seed.
    assert json.loads((out / "manifest.json").read_text())["seed"] == sweep.seed


def test_chunking_does_not_change_results(reference, tmp_path):
    _, out = reference
    sweep = write_sweep(tmp_path, reps=250, chunk=250)  # one task per point instead of three
    other = tmp_path / "out"
    run_sweep(sweep, other, executor="serial")
    for name in ("stocks", "shares", "targets"):
        a = read_table(out, name).sort_values(["point", "replication"], kind="stable")
        b = read_table(other, name).sort_values(["point", "replication"], kind="stable")
        assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)
    assert_frame_equal(
        pd.read_parquet(out / "summary.parquet"), pd.read_parquet(other / "summary.parquet")
    )


def test_tables_are_tidy_without_duplicates(reference):
    _, out = reference
    stocks = read_table(out, "stocks")
    key = ["point", "replication", "year", "grade", "sex"]
    assert not stocks.duplicated(key).any()
    assert len(stocks) == 4 * 250 * 9 * 3 * 2
    # share_of_grade: women's and men's shares of a grade add up to 1 where it is not empty.
    sums = stocks.groupby(["point", "replication", "year", "grade"], observed=True)[
        "share_of_grade"
    ].sum()
    assert np.allclose(sums.dropna(), 1.0)
    shares = read_table(out, "shares")
    assert not shares.duplicated(["point", "replication", "year", "population"]).any()
    assert set(shares["population"]) == {"g0", "g1", "g2", "workforce", "intake"}
    targets = read_table(out, "targets")
    assert len(targets) == 4 * 250 * 2
    expected = read_table(out, "expected")
    assert not expected.duplicated(["point", "year", "population"]).any()


# --------------------------------------------------------------------------------------------
# Failing points
# --------------------------------------------------------------------------------------------
def test_a_value_the_field_refuses_is_reported_before_any_point_runs(tmp_path, capsys):
    # floor 1.5 is not a share: refused once, on its grid value, and nothing is written.
    from simulator.cli import main

    sweep_file = write_sweep(tmp_path, reps=100, floor="[0.0, 1.5]")
    argv = ["sweep", str(sweep_file), "--out", str(tmp_path / "out"), "--executor", "serial"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "grid[1].values[1]: invalid here:" in err
    assert "(got 1.5)" in err
    assert not (tmp_path / "out").exists()


def test_failing_points_are_reported_by_name_and_others_kept(tmp_path, capsys):
    # attrition 0.95 + promotion 0.1 > 1 in g0 is valid for each lever alone and fails only in
    # combination, in the task (at compile time): those points fail, the others are kept.
    sweep_file = write_sweep(tmp_path, reps=100, floor="[0.0, 0.5]")
    text = sweep_file.read_text() + (
        '\n[[grid]]\npath = "attrition[grade=g0].women"\nname = "attr"\nvalues = [0.1, 0.95]\n'
    )
    sweep_file.write_text(text)
    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["sweep", str(sweep_file), "--out", str(tmp_path / "out"), "--executor", "serial"]
    )
    status = dispatch(args)
    assert status == 2  # every failure is an invalid scenario
    err = capsys.readouterr().err
    assert "failed: point 1 (intake=0.3, floor=0, attr=0.95): promotions[0].probability" in err
    assert "attrition + promotion must be ≤ 1" in err  # the compile-time error, from the task
    summary = pd.read_parquet(tmp_path / "out" / "summary.parquet")
    ok = summary[summary["status"] == "ok"]
    assert list(ok["point"]) == [0, 2, 4, 6]  # attrition 0.1
    assert ok["top.probability"].notna().all()
    failed = summary[summary["status"] == "failed"]
    assert failed["error"].str.len().gt(0).all()
    assert failed["top.probability"].isna().all()
    failures = json.loads((tmp_path / "out" / "failures.json").read_text())
    assert [f["point"] for f in failures] == [1, 3, 5, 7]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["status"] == "failed"


# --------------------------------------------------------------------------------------------
# Resume
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_resume_after_sigkill_gives_the_uninterrupted_results(reference, tmp_path):
    sweep_file, ref_out = reference
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "simulator.sweep_cli",
        "sweep",
        str(sweep_file),
        "--out",
        str(out),
        "--executor",
        "serial",
    ]
    total = 12
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        markers = 0
        while time.monotonic() < deadline and proc.poll() is None:
            markers = len(list((out / "_tasks").glob("*.json"))) if out.exists() else 0
            if markers >= 3:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done_at_kill = len(completed_tasks(out))
    assert 3 <= done_at_kill < total, done_at_kill
    assert not (out / "summary.parquet").exists()

    outcome = run_sweep(sweep_file, out, executor="serial")
    assert outcome.ok
    assert outcome.tasks_skipped == done_at_kill
    assert outcome.tasks_run == total - done_at_kill
    assert_same_results(ref_out, out)
    runs = json.loads((out / "manifest.json").read_text())["runs"]
    assert [r["status"] for r in runs] == ["running", "complete"]  # the killed run, the resume


def test_resume_repairs_partial_state(reference, tmp_path):
    """The states a kill can leave: temp files, data without a marker, and (power loss) a
    marker whose file is damaged. Each is detected and the task is redone."""
    sweep_file, ref_out = reference
    out = tmp_path / "out"
    run_sweep(sweep_file, out, executor="serial")
    (out / "stocks" / ".p000000-c000000.parquet.tmp-999").write_bytes(b"partial")
    (out / "_tasks" / "p000001-c000002.json").unlink()  # data written, marker not
    (out / "shares" / "p000002-c000001.parquet").write_bytes(b"garbage")  # damaged file
    (out / "summary.parquet").unlink()
    outcome = run_sweep(sweep_file, out, executor="serial")
    assert outcome.tasks_run == 2
    assert outcome.tasks_skipped == 10
    assert not list(out.rglob(".*.tmp-*"))
    assert_same_results(ref_out, out)


def test_rerun_of_a_finished_sweep_runs_nothing(reference):
    sweep_file, out = reference
    before = all_tables(out)
    outcome = run_sweep(sweep_file, out, executor="serial")
    assert outcome.tasks_run == 0
    assert outcome.tasks_skipped == 12
    after = all_tables(out)
    for name in before:
        assert_frame_equal(before[name], after[name], check_exact=True)


def test_resume_into_another_sweeps_directory_is_refused(reference, tmp_path):
    _, out = reference
    other = write_sweep(tmp_path, reps=250, chunk=100, floor="[0.0, 0.3]")
    with pytest.raises(ScenarioError) as info:
        run_sweep(other, out, executor="serial")
    issue = info.value.issues[0]
    assert issue.path == "--out"
    assert "different sweep" in issue.message
    assert "use a new --out" in issue.message


def test_an_output_directory_with_other_files_is_refused(tmp_path):
    sweep = write_sweep(tmp_path, reps=250, chunk=100)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("not a sweep's")
    with pytest.raises(ScenarioError) as info:
        run_sweep(sweep, out, executor="serial")
    issue = info.value.issues[0]
    assert issue.path == "--out"
    assert "other files in it (notes.txt)" in issue.message
    assert sorted(p.name for p in out.iterdir() if p.name != ".lock") == ["notes.txt"]
    # an empty directory is fine (and an existing sweep's resumes, tested above)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_sweep(sweep, empty, executor="serial").ok


# --------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_process_pool_gives_identical_results(reference, tmp_path):
    sweep_file, ref_out = reference
    outcome = run_sweep(sweep_file, tmp_path / "out", executor="process", workers=2)
    assert outcome.ok
    assert outcome.workers == 2
    assert_same_results(ref_out, tmp_path / "out")


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_results(reference, tmp_path):
    pytest.importorskip("distributed")
    sweep_file, ref_out = reference
    outcome = run_sweep(sweep_file, tmp_path / "out", executor="dask", workers=2)
    assert outcome.ok
    assert outcome.workers == 2
    assert_same_results(ref_out, tmp_path / "out")


def _dask_command(kind: str) -> list[str]:
    script = Path(sys.executable).with_name("dask")
    if script.exists():
        return [str(script), kind]
    module = {
        "scheduler": "distributed.cli.dask_scheduler",
        "worker": "distributed.cli.dask_worker",
    }
    return [sys.executable, "-m", module[kind]]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture
def dask_scheduler(tmp_path):
    """A ``dask scheduler`` and one ``dask worker`` as separate processes on 127.0.0.1."""
    pytest.importorskip("distributed")
    info = tmp_path / "scheduler.json"
    logs = [open(tmp_path / f"{n}.log", "wb") for n in ("scheduler", "worker")]  # noqa: SIM115
    procs: list[subprocess.Popen] = []
    try:
        procs.append(
            subprocess.Popen(
                [
                    *_dask_command("scheduler"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(info),
                ],
                stdout=logs[0],
                stderr=subprocess.STDOUT,
            )
        )
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            assert procs[0].poll() is None, (tmp_path / "scheduler.log").read_text()
            time.sleep(0.05)
        address = json.loads(info.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(
            subprocess.Popen(
                [
                    *_dask_command("worker"),
                    address,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                stdout=logs[1],
                stderr=subprocess.STDOUT,
            )
        )
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for fh in logs:
            fh.close()


@pytest.mark.slow
def test_external_dask_scheduler_gives_identical_results(reference, tmp_path, dask_scheduler):
    sweep_file, ref_out = reference
    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["sweep", str(sweep_file), "--out", str(tmp_path / "out"), "--scheduler", dask_scheduler]
    )
    assert dispatch(args) == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["runs"][-1]["executor"] == "dask"
    assert manifest["runs"][-1]["scheduler"] == dask_scheduler
    assert_same_results(ref_out, tmp_path / "out")


# --------------------------------------------------------------------------------------------
# The shipped example
# --------------------------------------------------------------------------------------------
def test_shipped_police_sweep_is_valid():
    sweep = load_sweep(ROOT / "sweeps" / "police_leaders.toml")
    assert len(sweep.points) == 25
    assert sweep.replications == 1000
    assert [t.id for t in sweep.base.targets] == ["police-leaders-2030"]
    for point in sweep.points:
        compile_scenario(sweep.point_scenario(point))  # every point is a valid scenario
    floors = {p.values["leader_promotion_floor"] for p in sweep.points}
    assert floors == {0.0, 0.2, 0.3, 0.35, 0.4}


@pytest.mark.parametrize("path", sorted((ROOT / "sweeps").glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_sweep_is_valid_at_every_point(path):
    sweep = load_sweep(path)
    assert sweep.points
    for point in sweep.points:
        compile_scenario(sweep.point_scenario(point))


def test_point_scenario_has_the_levers_set(reference):
    sweep_file, _ = reference
    sweep = load_sweep(sweep_file)
    point = sweep.points[3]  # intake 0.5, floor 0.4
    compiled = compile_scenario(sweep.point_scenario(point))
    assert np.all(compiled.women_share == 0.5)
    assert np.all(compiled.women_floor[:, 2] == 0.4)
    base = run(compile_scenario(sweep.base), "expected").share("g2")[0, -1]
    lever = run(compiled, "expected").share("g2")[0, -1]
    assert lever > base  # a floor and a higher intake share raise the top grade's share


def test_sweep_files_in_the_docs_are_valid():
    """Every toml block of docs/sweeps.md is a valid sweep (paths relative to sweeps/)."""
    import re

    text = (ROOT / "docs" / "sweeps.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2
    for block in blocks:
        sweep = loads_sweep(block, ROOT / "sweeps", source="docs/sweeps.md")
        for point in sweep.points:
            sweep.point_scenario(point)
    first = loads_sweep(blocks[0], ROOT / "sweeps")
    assert first.identity == load_sweep(ROOT / "sweeps" / "police_leaders.toml").identity, (
        "the first example in docs/sweeps.md must be the shipped sweep"
    )


def test_a_value_another_lever_can_mend_is_left_to_the_points(tmp_path):
    """A deadline beyond the base's end year is valid once end_year is swept to cover it: the
    upfront check counts only field validation, so the sweep loads; the combination that
    stays invalid (2010 with end 2008) is left to fail as a point."""
    sweep_file = write_sweep(tmp_path, reps=100)
    sweep_file.write_text(
        sweep_file.read_text()
        + '\n[[grid]]\npath = "targets[id=top].deadline"\nname = "due"\n'
        + "values = [2006, 2010]\n"
        + '\n[[grid]]\npath = "end_year"\nname = "end"\nvalues = [2008, 2012]\n'
    )
    sweep = load_sweep(sweep_file)
    assert len(sweep.points) == 2 * 2 * 2 * 2
