"""``parity sweep`` and ``parity sensitivity``: the command-line face of sweeps.

::

    parity sweep FILE --out DIR [--executor serial|process|dask] [--workers N]
                 [--scheduler ADDRESS]
    parity sensitivity FILE [--target ID] [--quantity probability|share] [--n N]
                 [--executor ...] [--workers N] [--scheduler ADDRESS] [--json] [--out FILE]

:func:`add_subcommands` adds both to the ``parity`` parser and :func:`dispatch` runs them
(``None`` for any other command). Exit status: 0 every point finished; 2 invalid input (the
sweep file, or any point whose values make an invalid scenario — the other points' results are
kept); 1 a point failed for another reason; 130 interrupted (the results so far are kept:
run the same command again to resume).

Run standalone (before or besides ``parity``): ``python -m simulator.sweep_cli sweep ...``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from simulator.cli_common import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    check_output_dir,
    check_output_file,
    int_arg,
    standalone_main,
)

COMMANDS = ("sweep", "sensitivity")


def _executor_options(p: argparse.ArgumentParser, default: str) -> None:
    from simulator.sweep import EXECUTORS

    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=default,
        help=f"where tasks run (default: {default}); results are identical for every choice",
    )
    p.add_argument(
        "--workers",
        type=int_arg("--workers", 1, 4096),
        default=None,
        help="worker processes (process, or dask without --scheduler); default: CPU count",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --executor dask)",
    )


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``sweep`` and ``sensitivity`` to a ``parity`` sub-parser set."""
    sw = subparsers.add_parser(
        "sweep",
        help="run every point of a sweep file (parallel, resumable)",
        description=(
            "Run every point of a sweep file and write Parquet tables, a summary and a "
            "manifest into --out. Interrupt at any time; the same command resumes."
        ),
    )
    sw.add_argument("file", type=Path, help="sweep file (TOML or JSON)")
    sw.add_argument("--out", type=Path, required=True, help="output directory")
    _executor_options(sw, "process")

    se = subparsers.add_parser(
        "sensitivity",
        help="Sobol indices and a one-at-a-time tornado over a sweep's parameters",
        description=(
            "Global (Sobol first and total order) and one-at-a-time sensitivity of a target's "
            "probability (stochastic engine, common random numbers) or expected share at the "
            "deadline (expected engine) to the sweep file's parameters within their bounds."
        ),
    )
    se.add_argument("file", type=Path, help="sweep file (TOML or JSON)")
    se.add_argument("--target", default=None, help="target id (default: the scenario's first)")
    se.add_argument(
        "--quantity",
        choices=("probability", "share"),
        default="share",
        help="probability the target is met (stochastic) or expected share at the deadline",
    )
    se.add_argument(
        "--n",
        type=int_arg("--n", 1, 1 << 16),
        default=256,
        help="Sobol base sample size, a power of 2; cost n x (parameters + 2) runs (default 256)",
    )
    se.add_argument("--seed", type=int, default=0, help="seed of the Sobol sample (default 0)")
    se.add_argument("--json", action="store_true", help="print the result as JSON")
    se.add_argument("--out", type=Path, default=None, help="also write the result as JSON here")
    _executor_options(se, "serial")


def dispatch(args: argparse.Namespace) -> int | None:
    """Run ``sweep`` or ``sensitivity``; ``None`` if ``args.command`` is another command."""
    command = getattr(args, "command", None)
    if command not in COMMANDS:
        return None
    if getattr(args, "scheduler", None) is not None:
        args.executor = "dask"
    if command == "sweep":
        return cmd_sweep(args)
    return cmd_sensitivity(args)


# --------------------------------------------------------------------------------------------
def _bar(total: int, unit: str):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc="tasks", file=sys.stderr, disable=None, smoothing=0.1)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run or resume a sweep; print failures and where the results are."""
    from simulator.sweep import run_sweep
    from simulator.sweep_spec import load_sweep

    check_output_dir("--out", args.out)
    sweep = load_sweep(args.file)
    n_tasks = len(sweep.points) * sweep.chunks_per_point
    print(
        f"{sweep.name}: {len(sweep.points)} points x {sweep.replications} replications "
        f"({n_tasks} tasks of ≤ {sweep.chunk_replications}), seed {sweep.seed} "
        f"(common to all points), executor {args.executor}",
        file=sys.stderr,
    )
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = _bar(total, "task")
            bar.update(done)
            if done:
                bar.write(f"resuming: {done} of {total} tasks already done", file=sys.stderr)
            return
        bar.update(done - bar.n)

    try:
        outcome = run_sweep(
            sweep,
            args.out,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=progress,
        )
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(
            f"interrupted; finished tasks are kept in {args.out}/ — run the same command to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        if bar is not None:
            bar.close()
    print(format_outcome(outcome, sweep))
    if not outcome.failures:
        return EXIT_OK
    for f in outcome.failures:
        print(f"failed: {f}", file=sys.stderr)
    print(
        f"{len(outcome.failures)} of {outcome.points} points failed; the other points' results "
        f"are in {args.out}/",
        file=sys.stderr,
    )
    return EXIT_INVALID if all(f.invalid for f in outcome.failures) else EXIT_INTERNAL


def format_outcome(outcome, sweep, max_rows: int = 40) -> str:
    """A short report: counts, and the summary table when it is small."""
    ok = int((outcome.summary["status"] == "ok").sum())
    lines = [
        f"{ok} of {outcome.points} points done ({outcome.tasks_run} tasks run, "
        f"{outcome.tasks_skipped} already done) in {outcome.seconds:.1f} s "
        f"on {outcome.executor} x {outcome.workers}",
    ]
    targets = sweep.base.targets
    if targets and len(outcome.summary) <= max_rows:
        cols = [lv.column for lv in sweep.levers]
        width = {c: max(len(c), 8) for c in cols}
        for t in targets:
            lines.append("")
            lines.append(f"target {t.id}: {t.label or t.describe()}")
            head = "  ".join(f"{c:>{width[c]}}" for c in cols)
            lines.append(f"{head}  {'P(met) [95% CI]':>22}  {'median share':>12}  {'expected':>8}")
            for _, row in outcome.summary.iterrows():
                vals = "  ".join(f"{_cell(row[c]):>{width[c]}}" for c in cols)
                if row["status"] != "ok":
                    lines.append(f"{vals}  {row['status']:>22}")
                    continue
                p, lo, hi = (
                    row[f"{t.id}.{s}"]
                    for s in ("probability", "probability_low", "probability_high")
                )
                prob = f"{_pct(p)} [{_pct(lo)}–{_pct(hi)}]"
                lines.append(
                    f"{vals}  {prob:>22}  {_pct(row[f'{t.id}.share_median']):>12}  "
                    f"{_pct(row[f'{t.id}.expected_share']):>8}"
                )
    lines.append("")
    lines.append(
        f"results: {outcome.out_dir}/ — summary: "
        f"pandas.read_parquet('{outcome.out_dir}/summary.parquet')"
    )
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _pct(x: Any) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "—"
    return "—" if x != x else f"{100 * x:.1f}%"


# --------------------------------------------------------------------------------------------
def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Sobol indices and tornado for one target."""
    from simulator.sensitivity import analyse, format_report
    from simulator.sweep_spec import load_sweep

    check_output_file("--out", args.out, [args.file])
    sweep = load_sweep(args.file)
    report = analyse(
        sweep,
        target=args.target,
        quantity=args.quantity,
        n=args.n,
        seed=args.seed,
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=_sensitivity_progress(),
    )
    data = report.to_dict()
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, indent=2, allow_nan=False))
    if args.json:
        print(json.dumps(data, indent=2, allow_nan=False))
    else:
        print(format_report(report))
    return EXIT_OK


def _sensitivity_progress():
    state: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = _bar(total, "run")
            state["bar"].desc = "runs"
        state["bar"].update(done - state["bar"].n)
        if done >= total:
            state.pop("bar").close()

    return progress


# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m simulator.sweep_cli sweep|sensitivity ...``."""
    return standalone_main(add_subcommands, dispatch, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
