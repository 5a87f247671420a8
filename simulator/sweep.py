"""Batch scenario sweeps: many points x many replications, parallel, resumable, exact.

:func:`run_sweep` runs every point of a sweep file (see :mod:`simulator.sweep_spec` and
``docs/sweeps.md``) with the stochastic engine and writes tidy Parquet tables, a per-point
summary and a manifest into an output directory.

Work is split into **tasks** = (point, chunk of replications). A chunk is a run of
``chunk_replications`` consecutive replications (the last may be shorter), so its boundaries
are multiples of :data:`simulator.rng.BLOCK_SIZE` when the chunk size is; inside a task the
engine is vectorised over replications. Because the engine's random streams are keyed by
(replication block, decision) and every point uses the sweep's root seed, a task's numbers
depend only on (point, replications it covers, seed): never on the executor, the worker count,
the order tasks finish in, or whether the sweep was interrupted. All points share the root
seed on purpose — **common random numbers**: every decision whose inputs a lever does not change
draws the same numbers at every point (``docs/sweeps.md`` says how far that coupling goes).

Executors share the :class:`concurrent.futures.Executor` interface:

* ``serial`` — in this process (debugging, tiny sweeps);
* ``process`` — a :class:`~concurrent.futures.ProcessPoolExecutor` (the default; ``forkserver``
  start method where available);
* ``dask`` — ``distributed.Client(address).get_executor(pure=False)`` against a running
  scheduler (``--scheduler tcp://host:8786``) or a ``LocalCluster`` of ``workers`` single-threaded
  processes without a dashboard. ``pure=False`` matters: Dask would otherwise treat two
  identical submissions as one.

Tasks return their tables as Parquet bytes; only this (driver) process writes files, so a
cluster needs no shared file system. Each finished task is committed atomically:

1. every table file is written to a hidden temporary name in its directory, fsynced and
   ``os.replace``-d onto ``<table>/p<point>-c<chunk>.parquet``;
2. then a marker ``_tasks/p<point>-c<chunk>.json`` (sizes and sha256 of those files) is written
   the same way. A task is done if and only if its marker exists and its files match it
   (checked on every start, so even a power cut that lost a rename is caught and the task is
   simply run again).

A run killed at any moment (``kill -9``) leaves at most temporary files (removed on the next
start) and data files without a marker (rewritten, byte for byte, by the next run): the next
run with the same command skips the done tasks and finishes with exactly the results of an
uninterrupted run. The output directory's ``manifest.json`` records the sweep's identity (a
sha256 of everything that determines results); resuming into a directory of another sweep is
refused. A lock file stops two runs writing into one directory at once.

Output directory::

    manifest.json        provenance: sweep and base-scenario sha256, version, seed, runs
    points.parquet       one row per point: point, label, parameter values
    stocks/              per (point, replication, year, grade, sex): stock, share_of_grade, flows
    shares/              per (point, replication, year, population): women, men, total, share
    targets/             per (point, replication, target): share_at_deadline, met, first_year_met
    expected/            expected engine, per (point, year, population): women, men, total, share
    summary.parquet      one row per point: parameters, status, per target probability with
    summary.csv            Wilson 95 % interval, share quantiles at the deadline, expected share
    summary_targets.parquet  the same, one row per (point, target)
    failures.json        failed points with their errors (empty list when none)

Every table carries ``point`` and one column per swept parameter, so
``pandas.read_parquet(out / "shares")`` is ready to group by the parameters.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from simulator import __version__
from simulator.errors import Issue, ScenarioError
from simulator.rng import BLOCK_SIZE
from simulator.sweep_spec import Point, Sweep, load_sweep

ExecutorKind = Literal["serial", "process", "dask"]
EXECUTORS: tuple[str, ...] = ("serial", "process", "dask")
TABLES = ("stocks", "shares", "targets", "expected")
SUMMARY_STATS = (
    "probability",
    "probability_low",
    "probability_high",
    "share_p5",
    "share_median",
    "share_p95",
    "expected_share",
)
MARKER_DIR = "_tasks"
MANIFEST = "manifest.json"
LOCK = ".lock"


# --------------------------------------------------------------------------------------------
# Tasks (run in workers: module-level, picklable)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskSpec:
    """One unit of work: a chunk of replications of one point."""

    point: int
    chunk: int
    first: int
    replications: int
    seed: int
    scenario_data: dict[str, Any]
    params: tuple[tuple[str, Any, str], ...]  # (column, value, dtype)
    with_expected: bool


@dataclass
class TaskOutput:
    """What a task sends back: its tables as Parquet bytes, or an error."""

    point: int
    chunk: int
    tables: dict[str, bytes] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    invalid: bool = False
    seconds: float = 0.0


def run_task(task: TaskSpec) -> TaskOutput:
    """Run one task; never raises for a scenario problem (it is returned as the error)."""
    from simulator import sweep_tables as st
    from simulator.api import run
    from simulator.compiled import compile_scenario
    from simulator.scenario import parse_scenario

    t0 = time.perf_counter()
    out = TaskOutput(task.point, task.chunk)
    try:
        scenario = parse_scenario(task.scenario_data)
        compiled = compile_scenario(scenario)
        result = run(
            compiled,
            "stochastic",
            replications=task.replications,
            seed=task.seed,
            first_replication=task.first,
        )
        tables = {
            "stocks": st.stocks_table(result, task.point, task.params),
            "shares": st.shares_table(result, task.point, task.params),
            "targets": st.targets_table(scenario, result, task.point, task.params),
        }
        if task.with_expected:
            expected = run(compiled, "expected")
            tables["expected"] = st.shares_table(expected, task.point, task.params, expected=True)
        for name, table in tables.items():
            out.tables[name] = st.encode(table)
            out.rows[name] = table.num_rows
    except ScenarioError as exc:
        out.error = "; ".join(str(i) for i in exc.issues) or str(exc)
        out.invalid = True
    except Exception as exc:
        out.error = f"{type(exc).__name__}: {exc}"
        if os.environ.get("PARITY_DEBUG"):
            out.error += "\n" + traceback.format_exc()
    out.seconds = time.perf_counter() - t0
    return out


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Encode a table as Parquet (zstd) in memory."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, engine="pyarrow", compression="zstd")
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Executors behind one interface
# --------------------------------------------------------------------------------------------
class SerialExecutor(Executor):
    """Run each submitted call at once, in this process (same interface as the pools)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


@contextlib.contextmanager
def open_executor(
    kind: str = "process", workers: int | None = None, scheduler: str | None = None
) -> Iterator[tuple[Executor, int]]:
    """Yield ``(executor, slots)``: a concurrent.futures executor and how many tasks run at once.

    Parameters
    ----------
    kind
        ``serial``, ``process`` or ``dask``.
    workers
        Worker processes (``process``, and ``dask`` without a scheduler); default: CPU count.
    scheduler
        Address of a running Dask scheduler (``dask`` only); ``None`` starts a local cluster.
    """
    if kind not in EXECUTORS:
        raise ScenarioError([Issue("--executor", f"use one of {', '.join(EXECUTORS)}", kind)])
    if scheduler is not None and kind != "dask":
        raise ScenarioError([Issue("--scheduler", "applies to --executor dask only", scheduler)])
    n = workers or os.cpu_count() or 1
    if kind == "serial":
        yield SerialExecutor(), 1
        return
    if kind == "process":
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(["simulator.sweep"])
        pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx)
        try:
            yield pool, n
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    yield from _dask_executor(n, scheduler)


def _dask_executor(n: int, scheduler: str | None) -> Iterator[tuple[Executor, int]]:
    import logging

    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is in the dev and dist extras
        raise ScenarioError(
            [
                Issue(
                    "--executor", "dask needs dask[distributed]: pip install 'parity[dist]'", "dask"
                )
            ]
        ) from None
    cluster = None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, ValueError) as exc:  # unreachable, or not an address (ValueError)
            raise ScenarioError(
                [Issue("--scheduler", f"cannot connect to the Dask scheduler: {exc}", scheduler)]
            ) from None
    else:
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    try:
        slots = sum(client.nthreads().values()) or n
        executor = client.get_executor(pure=False)
        try:
            yield executor, slots
        finally:
            executor.shutdown(wait=False)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------------------------
# Atomic files
# --------------------------------------------------------------------------------------------
def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: hidden temp file in the same directory, fsync,
    ``os.replace``. Readers see the old file or the new one, never a part."""
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def task_name(point: int, chunk: int) -> str:
    """File stem of a task's outputs."""
    return f"p{point:06d}-c{chunk:06d}"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def commit_task(out: Path, output: TaskOutput) -> None:
    """Write a finished task's tables, then its marker (the commit point)."""
    stem = task_name(output.point, output.chunk)
    files = {}
    for name, data in output.tables.items():
        path = out / name / f"{stem}.parquet"
        write_atomic(path, data)
        files[name] = {
            "file": f"{name}/{path.name}",
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": output.rows[name],
        }
    marker = {"point": output.point, "chunk": output.chunk, "files": files}
    write_atomic(out / MARKER_DIR / f"{stem}.json", json.dumps(marker, indent=1).encode())


def completed_tasks(out: Path, verify: bool = True) -> set[tuple[int, int]]:
    """Return the (point, chunk) pairs whose marker exists and whose files match it."""
    done: set[tuple[int, int]] = set()
    marker_dir = out / MARKER_DIR
    if not marker_dir.is_dir():
        return done
    for marker in marker_dir.glob("p*-c*.json"):
        try:
            info = json.loads(marker.read_text())
            ok = True
            for entry in info["files"].values():
                path = out / entry["file"]
                if not path.is_file() or path.stat().st_size != entry["bytes"]:
                    ok = False
                    break
                if verify and _sha256_file(path) != entry["sha256"]:
                    ok = False
                    break
            if ok:
                done.add((int(info["point"]), int(info["chunk"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return done


def _remove_temporaries(out: Path) -> None:
    for sub in (out, *(out / t for t in TABLES), out / MARKER_DIR):
        if sub.is_dir():
            for tmp in sub.glob(".*.tmp-*"):
                with contextlib.suppress(OSError):
                    tmp.unlink()


# --------------------------------------------------------------------------------------------
# Manifest, lock
# --------------------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _base_manifest(sweep: Sweep) -> dict[str, Any]:
    import numpy
    import scipy

    from simulator.scenario import scenario_fingerprint

    return {
        "kind": "parity sweep",
        "sweep": sweep.name,
        "sweep_file": str(sweep.path) if sweep.path else None,
        "sweep_file_sha256": sweep.file_sha256,
        "sweep_sha256": sweep.identity,
        "base_scenario_file": str(sweep.base_path) if sweep.base_path else None,
        "base_scenario_file_sha256": sweep.base_file_sha256,
        "base_scenario_sha256": scenario_fingerprint(sweep.base),
        "parity_version": __version__,
        "replication_block_size": BLOCK_SIZE,
        "seed": sweep.seed,
        "common_random_numbers": True,
        "replications_per_point": sweep.replications,
        "chunk_replications": sweep.chunk_replications,
        "parameters": [
            {"column": lv.column, "path": lv.path, "dtype": lv.dtype} for lv in sweep.levers
        ],
        "points": len(sweep.points),
        "chunks_per_point": sweep.chunks_per_point,
        "tasks": len(sweep.points) * sweep.chunks_per_point,
        "tables": list(TABLES),
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "runs": [],
    }


def _check_identity(out: Path, sweep: Sweep) -> dict[str, Any] | None:
    """Return the existing manifest if it belongs to this sweep; refuse otherwise."""
    path = out / MANIFEST
    if not path.exists():
        if (out / MARKER_DIR).exists():
            raise ScenarioError(
                [
                    Issue(
                        "--out",
                        "holds sweep results but no manifest; use a new directory",
                        str(out),
                    )
                ]
            )
        others = sorted(p.name for p in out.iterdir() if p.name != LOCK)
        if others:  # a sweep writes several files and folders: never among someone else's
            shown = ", ".join(others[:5]) + (", …" if len(others) > 5 else "")
            raise ScenarioError(
                [
                    Issue(
                        "--out",
                        f"is a directory with other files in it ({shown}) and no sweep "
                        "manifest; give a new or empty directory",
                        str(out),
                    )
                ]
            )
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ScenarioError(
            [Issue("--out", f"has an unreadable {MANIFEST} ({exc}); use a new directory", str(out))]
        ) from None
    mine = {"sweep_sha256": sweep.identity, "parity_version": __version__}
    for key, value in mine.items():
        if manifest.get(key) != value:
            what = (
                "a different sweep (its points, replications, seed, chunks or base scenario differ)"
                if key == "sweep_sha256"
                else f"parity {manifest.get(key)} (this is {value}), whose numbers may differ"
            )
            raise ScenarioError(
                [
                    Issue(
                        "--out",
                        f"belongs to {what}: {key} {str(manifest.get(key))[:16]}… vs "
                        f"{str(value)[:16]}…; refusing to mix results — use a new --out "
                        "directory or delete this one",
                        str(out),
                    )
                ]
            )
    return manifest


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fh = open(out / LOCK, "a+")  # noqa: SIM115 - held for the duration of the run
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ScenarioError(
                [Issue("--out", "another sweep is running into this directory", str(out))]
            ) from None
        yield
    finally:
        fh.close()


# --------------------------------------------------------------------------------------------
# Running a sweep
# --------------------------------------------------------------------------------------------
@dataclass
class PointFailure:
    """A point that could not be run, with its error."""

    point: int
    label: str
    error: str
    invalid: bool

    def __str__(self) -> str:
        return f"point {self.point} ({self.label}): {self.error}"


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` did."""

    out_dir: Path
    points: int
    tasks: int
    tasks_skipped: int
    tasks_run: int
    failures: list[PointFailure]
    summary: pd.DataFrame
    seconds: float
    executor: str
    workers: int

    @property
    def ok(self) -> bool:
        """True when every point finished."""
        return not self.failures


ProgressCallback = Callable[[int, int], None]


def run_sweep(
    sweep: Sweep | str | Path,
    out_dir: str | Path,
    executor: ExecutorKind = "process",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
) -> SweepOutcome:
    """Run (or resume) a sweep into ``out_dir``.

    Parameters
    ----------
    sweep
        A loaded sweep or the path of a sweep file.
    out_dir
        Output directory (created). If it holds this sweep's results, done tasks are skipped;
        if it holds another sweep's, :class:`ScenarioError` is raised.
    executor, workers, scheduler
        See :func:`open_executor`. Results do not depend on them.
    progress
        Called as ``progress(done_tasks, total_tasks)`` at the start and after each task.

    Returns
    -------
    SweepOutcome
        Counts, failures (points reported by their parameter values) and the summary table.
        A point that fails does not stop the others.
    """
    t0 = time.perf_counter()
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        manifest = _check_identity(out, sweep) or _base_manifest(sweep)
        for sub in (*TABLES, MARKER_DIR):
            (out / sub).mkdir(exist_ok=True)
        _remove_temporaries(out)
        run_record = {
            "executor": executor,
            "workers": workers,
            "scheduler": scheduler,
            "started_utc": _now(),
            "finished_utc": None,
            "status": "running",
            "tasks_run": 0,
        }
        manifest["runs"] = [*manifest.get("runs", []), run_record]
        manifest["status"] = "running"
        _write_manifest(out, manifest)
        if not (out / "points.parquet").exists():
            write_atomic(out / "points.parquet", to_parquet_bytes(points_table(sweep)))

        failures: dict[int, PointFailure] = {}
        valid: list[Point] = []
        for point in sweep.points:
            try:
                sweep.point_scenario(point)
            except ScenarioError as exc:
                failures[point.index] = PointFailure(
                    point.index, point.label, "; ".join(str(i) for i in exc.issues), True
                )
                continue
            valid.append(point)

        done = completed_tasks(out)
        todo = [
            (p, c) for p in valid for c in range(sweep.chunks_per_point) if (p.index, c) not in done
        ]
        total = len(valid) * sweep.chunks_per_point
        skipped = total - len(todo)
        finished = skipped
        if progress is not None:
            progress(finished, total)

        status = "interrupted"
        used_workers = 1
        writer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="parity-sweep-commit")
        try:
            with open_executor(executor, workers, scheduler) as (pool, slots):
                used_workers = slots
                run_record["workers"] = slots
                window = max(4 * slots, 8) if executor != "dask" or scheduler is None else 64
                queue = deque(todo)
                in_flight: dict[Future, tuple[Point, int]] = {}
                commits: dict[Future, tuple[Point, int]] = {}
                while queue or in_flight or commits:
                    while queue and len(in_flight) < window and len(commits) < window:
                        point, chunk = queue.popleft()
                        future = pool.submit(run_task, _task_spec(sweep, point, chunk))
                        in_flight[future] = (point, chunk)
                    completed, _ = wait([*in_flight, *commits], return_when=FIRST_COMPLETED)
                    for future in completed:
                        if future in commits:
                            commits.pop(future)
                            future.result()  # a write error (disk full, ...) stops the run
                            run_record["tasks_run"] += 1
                        else:
                            point, chunk = in_flight.pop(future)
                            try:
                                output = future.result()
                            except Exception as exc:  # a worker died, the pool broke, ...
                                output = TaskOutput(point.index, chunk, error=_describe_exc(exc))
                            if output.error is None:
                                commits[writer.submit(commit_task, out, output)] = (point, chunk)
                                continue
                            if point.index not in failures:
                                failures[point.index] = PointFailure(
                                    point.index, point.label, output.error, output.invalid
                                )
                        finished += 1
                        if progress is not None:
                            progress(finished, total)
            status = "complete"
        finally:
            writer.shutdown(wait=True)
            run_record["finished_utc"] = _now()
            run_record["status"] = status if status != "complete" or not failures else "failed"
            manifest["status"] = run_record["status"]
            _write_manifest(out, manifest)

        done = completed_tasks(out, verify=False)
        fail_list = [failures[k] for k in sorted(failures)]
        summary = build_summary(out, sweep, done, fail_list)
        write_atomic(out / "summary.parquet", to_parquet_bytes(summary))
        write_atomic(out / "summary.csv", summary.to_csv(index=False).encode())
        long = summary_long(summary, sweep)
        write_atomic(out / "summary_targets.parquet", to_parquet_bytes(long))
        write_atomic(
            out / "failures.json",
            json.dumps([f.__dict__ for f in fail_list], indent=1).encode(),
        )
        manifest["status"] = "complete" if not fail_list else "failed"
        manifest["finished_utc"] = _now()
        manifest["failed_points"] = [f.point for f in fail_list]
        _write_manifest(out, manifest)
    return SweepOutcome(
        out_dir=out,
        points=len(sweep.points),
        tasks=len(sweep.points) * sweep.chunks_per_point,
        tasks_skipped=skipped,
        tasks_run=run_record["tasks_run"],
        failures=fail_list,
        summary=summary,
        seconds=time.perf_counter() - t0,
        executor=executor,
        workers=used_workers,
    )


def _describe_exc(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if os.environ.get("PARITY_DEBUG"):
        text += "\n" + "".join(traceback.format_exception(exc))
    return text


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    write_atomic(out / MANIFEST, json.dumps(manifest, indent=2, default=str).encode())


def _task_spec(sweep: Sweep, point: Point, chunk: int) -> TaskSpec:
    first, reps = sweep.chunk_range(chunk)
    return TaskSpec(
        point=point.index,
        chunk=chunk,
        first=first,
        replications=reps,
        seed=sweep.seed,
        scenario_data=sweep.point_data(point),
        params=tuple((lv.column, point.values[lv.column], lv.dtype) for lv in sweep.levers),
        with_expected=chunk == 0,
    )


def points_table(sweep: Sweep) -> pd.DataFrame:
    """One row per point: number, label, parameter values."""
    data: dict[str, Any] = {
        "point": np.array([p.index for p in sweep.points], dtype=np.int64),
        "label": pd.Series([p.label for p in sweep.points], dtype="str"),
    }
    for lv in sweep.levers:
        data[lv.column] = pd.Series([p.values[lv.column] for p in sweep.points], dtype=lv.dtype)
    return pd.DataFrame(data)


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------
def _read_table(out: Path, table: str, columns: list[str] | None = None) -> pd.DataFrame | None:
    folder = out / table
    if not any(folder.glob("*.parquet")):
        return None
    return pd.read_parquet(folder, columns=columns)


def build_summary(
    out: Path, sweep: Sweep, done: set[tuple[int, int]], failures: list[PointFailure]
) -> pd.DataFrame:
    """One row per point: parameters, status, and per target: probability with its Wilson 95 %
    interval, 5/50/95 % quantiles of the share at the deadline, expected-engine share.

    The numbers are those :func:`simulator.summarize` gives for the point's scenario run with
    the sweep's replications and seed.
    """
    from simulator.targets import wilson_interval

    frame = points_table(sweep)
    by_point = {f.point: f for f in failures}
    complete = {
        p.index
        for p in sweep.points
        if all((p.index, c) in done for c in range(sweep.chunks_per_point))
    }
    frame["status"] = [
        "ok" if i in complete else ("failed" if i in by_point else "missing")
        for i in frame["point"]
    ]
    frame["error"] = pd.Series(
        [by_point[i].error if i in by_point else None for i in frame["point"]], dtype="str"
    )
    frame["replications"] = np.where(frame["status"] == "ok", sweep.replications, 0)
    targets = sweep.base.targets
    stats: dict[str, np.ndarray] = {
        f"{t.id}.{s}": np.full(len(frame), np.nan) for t in targets for s in SUMMARY_STATS
    }
    row_of = {int(p): i for i, p in enumerate(frame["point"])}
    tt = _read_table(out, "targets", ["point", "target", "share_at_deadline", "met"])
    ex = _read_table(out, "expected", ["point", "year", "population", "share"])
    if tt is not None and targets:
        tt = tt[tt["point"].isin(complete)]
        for (pt, tid), g in tt.groupby(["point", "target"], sort=True, observed=True):
            if tid not in {t.id for t in targets}:
                continue
            i = row_of[int(pt)]
            n = len(g)
            k = int(g["met"].sum())
            lo, hi = wilson_interval(k, n)
            stats[f"{tid}.probability"][i] = k / n
            stats[f"{tid}.probability_low"][i] = lo
            stats[f"{tid}.probability_high"][i] = hi
            col = g["share_at_deadline"].to_numpy(dtype=float)
            finite = col[~np.isnan(col)]
            if finite.size:
                q5, q50, q95 = (float(np.quantile(finite, q)) for q in (0.05, 0.5, 0.95))
                stats[f"{tid}.share_p5"][i] = q5
                stats[f"{tid}.share_median"][i] = q50
                stats[f"{tid}.share_p95"][i] = q95
    if ex is not None and targets:
        ex = ex[ex["point"].isin(complete)]
        for t in targets:
            sel = ex[(ex["population"] == t.population) & (ex["year"] == t.deadline)]
            for pt, share in zip(sel["point"], sel["share"], strict=True):
                stats[f"{t.id}.expected_share"][row_of[int(pt)]] = share
    for key, values in stats.items():
        frame[key] = values
    return frame


def summary_long(summary: pd.DataFrame, sweep: Sweep) -> pd.DataFrame:
    """The summary with one row per (point, target)."""
    cols = ["point", "label", *(lv.column for lv in sweep.levers), "status", "replications"]
    parts = []
    for t in sweep.base.targets:
        part = summary[cols].copy()
        part.insert(len(cols) - 2, "target", t.id)
        for s in SUMMARY_STATS:
            part[s] = summary[f"{t.id}.{s}"].to_numpy()
        parts.append(part)
    if not parts:
        return summary[cols].iloc[0:0]
    return pd.concat(parts, ignore_index=True)


def read_table(out_dir: str | Path, table: str) -> pd.DataFrame:
    """Read one output table of a sweep (``stocks``, ``shares``, ``targets``, ``expected``)
    as a pandas DataFrame sorted by point, chunk order and rows."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; use one of {TABLES}")
    folder = Path(out_dir) / table
    files = sorted(folder.glob("p*-c*.parquet"))
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
