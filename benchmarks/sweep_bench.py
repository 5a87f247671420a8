"""Sweep throughput: points per second, 1 -> 2 workers, Dask vs process pool overhead.

Workload: a 1,000-point sweep (10 x 10 x 10 full-factorial grid) x 200 replications per point,
one task per point, on a small scenario (:func:`bench_scenario`): a three-grade ladder
(entry / middle / top) of 1,000 people projected 10 years, rate-mode promotion into the middle
grade and vacancy-mode promotion (with an establishment and a floor) into the top grade, fixed
intake of 150 a year, one target on the top grade. The grid varies the intake's women's share,
the top-grade promotion floor and women's attrition in the middle grade. Every task simulates
its 200 replications and writes four Parquet tables (stocks, shares, targets, expected) plus its
marker, exactly as ``parity sweep`` does; the timings are of :func:`simulator.sweep.run_sweep`,
from start to summary, cluster start-up included.

Also measured: the executors' own overhead per task on no-op tasks (1,000 submissions).

Run::

    .venv/bin/python benchmarks/sweep_bench.py            # writes benchmarks/sweep_results.md
    .venv/bin/python benchmarks/sweep_bench.py --points 125 --out /tmp/sweep_results.md

The machine's load average is recorded before and after: on a shared machine the numbers move.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import tomli_w

HERE = Path(__file__).resolve().parent
A = "benchmark workload (synthetic)"


def bench_scenario() -> dict:
    """The small scenario of the benchmark (plain data, as a TOML file holds it)."""
    return {
        "name": "sweep benchmark: three grades, 1,000 people, 10 years",
        "start_year": 2024,
        "end_year": 2034,
        "grades": [
            {"id": "entry"},
            {"id": "middle"},
            {"id": "top", "establishment": 100, "assumption": A},
        ],
        "initial": [
            {"grade": "entry", "women": 180, "men": 420, "assumption": A},
            {"grade": "middle", "women": 75, "men": 225, "assumption": A},
            {"grade": "top", "women": 15, "men": 85, "assumption": A},
        ],
        "attrition": [
            {"grade": "entry", "women": 0.12, "men": 0.10, "assumption": A},
            {"grade": "middle", "women": 0.08, "men": 0.07, "assumption": A},
            {"grade": "top", "women": 0.09, "men": 0.09, "assumption": A},
        ],
        "promotions": [
            {
                "to": "middle",
                "mode": "rate",
                "probability": {"women": 0.1, "men": 0.1},
                "min_years_in_grade": 2,
                "assumption": A,
            },
            {"to": "top", "mode": "vacancy", "min_years_in_grade": 3, "assumption": A},
        ],
        "recruitment": {"mode": "fixed", "intake": 150, "women_share": 0.35, "assumption": A},
        "targets": [
            {
                "id": "top-25",
                "population": "top",
                "comparator": "at_least",
                "value": 0.25,
                "deadline": 2032,
                "assumption": A,
            }
        ],
    }


def bench_sweep(folder: Path, points: int, reps: int) -> Path:
    """Write the scenario and a grid sweep of about ``points`` points; return the sweep file."""
    side = max(1, round(points ** (1 / 3)))
    (folder / "base.toml").write_bytes(tomli_w.dumps(bench_scenario()).encode())

    def grid(lo: float, hi: float) -> list[float]:
        return [round(lo + (hi - lo) * i / max(side - 1, 1), 6) for i in range(side)]

    sweep = {
        "name": f"benchmark {side}^3 grid",
        "scenario": "base.toml",
        "replications": reps,
        "seed": 1,
        "chunk_replications": reps,
        "grid": [
            {"path": "recruitment.women_share", "name": "intake", "values": grid(0.25, 0.55)},
            {
                "path": "promotions[to=top].women_floor",
                "name": "floor",
                "values": grid(0.0, 0.45),
            },
            {
                "path": "attrition[grade=middle].women",
                "name": "attrition_w",
                "values": grid(0.05, 0.11),
            },
        ],
    }
    path = folder / "sweep.toml"
    path.write_bytes(tomli_w.dumps(sweep).encode())
    return path


def noop() -> None:
    """A task that does nothing (measures the executor's overhead)."""


def executor_overhead(kind: str, workers: int, tasks: int = 1000) -> tuple[float, float]:
    """Return (start-up + shut-down seconds, seconds per no-op task once running)."""
    from concurrent.futures import wait

    from simulator.sweep import open_executor

    t0 = time.perf_counter()
    with open_executor(kind, workers) as (pool, _):
        wait([pool.submit(noop) for _ in range(workers * 2)])  # workers up
        t1 = time.perf_counter()
        wait([pool.submit(noop) for _ in range(tasks)])
        t2 = time.perf_counter()
    t3 = time.perf_counter()
    return (t1 - t0) + (t3 - t2), (t2 - t1) / tasks


def task_throughput(sweep_file: Path, kind: str, workers: int, limit: int = 300) -> float:
    """Tasks per second of the executor running the sweep's tasks without writing anything
    (the engine and table encoding only): the ceiling that the file writes sit under."""
    from concurrent.futures import wait

    from simulator.sweep import _task_spec, open_executor, run_task
    from simulator.sweep_spec import load_sweep

    sweep = load_sweep(sweep_file)
    specs = [_task_spec(sweep, p, 0) for p in sweep.points[:limit]]
    with open_executor(kind, workers) as (pool, _):
        wait([pool.submit(run_task, specs[0]) for _ in range(workers)])  # workers up
        t0 = time.perf_counter()
        wait([pool.submit(run_task, s) for s in specs])
        return len(specs) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--out", type=Path, default=HERE / "sweep_results.md")
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args(argv)

    from simulator.sweep import read_table, run_sweep

    work = Path(tempfile.mkdtemp(prefix="parity-sweep-bench-"))
    rows = []
    load_before = os.getloadavg()
    try:
        sweep_file = bench_sweep(work, args.points, args.reps)
        configs = [("serial", 1), ("process", 1), ("process", 2)]
        if not args.skip_dask:
            configs.append(("dask", 2))
        reference = None
        for kind, workers in configs:
            out = work / f"out-{kind}-{workers}"
            t0 = time.perf_counter()
            outcome = run_sweep(sweep_file, out, executor=kind, workers=workers)
            seconds = time.perf_counter() - t0
            assert outcome.ok, outcome.failures
            targets = read_table(out, "targets")
            if reference is None:
                reference = targets
            identical = targets.equals(reference)
            rows.append((kind, workers, outcome.points, outcome.tasks, seconds, identical))
            print(
                f"{kind:>7} x{workers}: {outcome.points} points in {seconds:.1f} s "
                f"= {outcome.points / seconds:.1f} points/s (identical: {identical})",
                file=sys.stderr,
            )
            shutil.rmtree(out)
        raw = [(k, w, task_throughput(sweep_file, k, w)) for k, w in configs]
        overhead = [("process", 2, *executor_overhead("process", 2))]
        if not args.skip_dask:
            overhead.append(("dask", 2, *executor_overhead("dask", 2)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    base = {r[0] + str(r[1]): r[4] for r in rows}
    lines = [
        "## Sweeps: points per second",
        "",
        f"Command: `.venv/bin/python benchmarks/sweep_bench.py --points {args.points} "
        f"--reps {args.reps}`. Machine: {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after (a shared machine: other jobs ran at the same time).",
        "",
        f"Workload: {rows[0][2]} points (full-factorial grid) x {args.reps} replications, one task "
        "per point; a 3-grade, 1,000-person, 10-year scenario with a vacancy-mode top grade "
        "(`bench_scenario()` in benchmarks/sweep_bench.py). Each task runs the stochastic engine "
        "and writes four Parquet tables and a marker; wall time from start to summary, "
        "executor start-up included.",
        "",
        "| executor | workers | points | wall s | points/s | speed-up vs process x1 | "
        "identical results |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for kind, workers, points, _, seconds, identical in rows:
        speedup = base.get("process1", seconds) / seconds
        lines.append(
            f"| {kind} | {workers} | {points} | {seconds:.1f} | {points / seconds:.1f} | "
            f"{speedup:.2f} | {'yes' if identical else 'NO'} |"
        )
    lines += [
        "",
        "The same tasks without writing anything (engine and Parquet encoding only, "
        f"{min(300, rows[0][2])} tasks after the workers are up): the ceiling of the table above.",
        "",
        "| executor | workers | tasks/s | speed-up vs process x1 |",
        "|---|---:|---:|---:|",
    ]
    raw_base = next((r[2] for r in raw if r[0] == "process" and r[1] == 1), raw[0][2])
    for kind, workers, rate in raw:
        lines.append(f"| {kind} | {workers} | {rate:.1f} | {rate / raw_base:.2f} |")
    lines += [
        "",
        "Executor overhead (no-op tasks, 1,000 submissions, 2 workers):",
        "",
        "| executor | start-up + shut-down s | overhead per task ms |",
        "|---|---:|---:|",
    ]
    for kind, workers, startup, per_task in overhead:
        lines.append(f"| {kind} x{workers} | {startup:.2f} | {1000 * per_task:.2f} |")
    lines.append("")
    text = "\n".join(lines)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
